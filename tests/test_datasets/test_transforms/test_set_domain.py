"""SetDomain selects the CN bank at test time (dynamic inference)."""
import copy

import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.config import ConfigDict
from mmengine.dataset import pseudo_collate
from mmseg.registry import MODELS, TRANSFORMS
from PIL import Image

from cn_seg import enable_domain_routing, fold_cn


def _pipeline(domain_idx, **kwargs):
    return Compose([
        TRANSFORMS.build(t) for t in [
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(32, 16), keep_ratio=True),
            dict(type='LoadAnnotations'),
            dict(type='PackSegInputs'),
            dict(type='SetDomain', domain_idx=domain_idx, **kwargs)
        ]
    ])


def _frame(tmp_path):
    rng = np.random.default_rng(0)
    img, seg = tmp_path / 'img.png', tmp_path / 'seg.png'
    Image.fromarray(rng.integers(0, 256,
                                 (32, 64, 3)).astype(np.uint8)).save(img)
    Image.fromarray(rng.integers(0, 4, (32, 64)).astype(np.uint8)).save(seg)
    return dict(
        img_path=str(img),
        seg_map_path=str(seg),
        reduce_zero_label=False,
        seg_fields=[])


def _cn_model():
    norm = dict(type='CN', num_domains=2, norm_cfg=dict(type='BN'))
    model = MODELS.build(
        ConfigDict(
            type='EncoderDecoder',
            data_preprocessor=dict(type='SegDataPreProcessor'),
            backbone=dict(
                type='ResNetV1c',
                depth=18,
                base_channels=8,
                stem_channels=8,
                norm_cfg=norm),
            decode_head=dict(
                type='FCNHead',
                in_channels=64,
                in_index=3,
                channels=8,
                num_convs=1,
                num_classes=4,
                norm_cfg=norm),
            test_cfg=dict(mode='whole')))
    torch.manual_seed(0)
    for module in model.modules():  # banks with different statistics
        if hasattr(module, 'running_var') and module.running_var is not None:
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.normal_(1.0, 0.3)
    return model.eval()


def test_tags_the_packed_sample(tmp_path):
    out = _pipeline(1, domain_name='half')(_frame(tmp_path))
    assert out['data_samples'].domain_idx == 1
    assert out['data_samples'].domain_name == 'half'
    assert _pipeline(2)(_frame(tmp_path))['data_samples'].domain_name == \
        'domain2'


def test_the_test_pipeline_selects_the_bank(tmp_path):
    model = enable_domain_routing(_cn_model())
    logits = {}
    for k in (0, 1):
        batch = pseudo_collate([_pipeline(k)(_frame(tmp_path))])
        with torch.no_grad():
            logits[k] = model.test_step(batch)[0].seg_logits.data
            plain = fold_cn(copy.deepcopy(model), domain=k)
            reference = plain.test_step(batch)[0].seg_logits.data
        # float32 with torch's default tolerances (1.3e-6 relative): the
        # same batch through the same convolutions; the CN layer in eval
        # mode and the folded BN run the same batch_norm kernel on the same
        # bank's statistics, so any CPU gives the same values to a few ulps.
        torch.testing.assert_close(logits[k], reference)
    assert not torch.allclose(logits[0], logits[1])


def test_refuses_unpacked_samples_and_bad_indices():
    with pytest.raises(ValueError, match='PackSegInputs'):
        TRANSFORMS.build(dict(type='SetDomain', domain_idx=0))(
            dict(img=np.zeros((2, 2, 3))))
    with pytest.raises(ValueError, match='non-negative int'):
        TRANSFORMS.build(dict(type='SetDomain', domain_idx=-1))
