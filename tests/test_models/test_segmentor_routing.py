"""Routing through mmseg segmentors by data_sample.metainfo['domain_idx']."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

from cn_seg import ConsistentNorm, enable_domain_routing, fold_cn
from .cn_helpers import data_samples, tiny_cascade, tiny_deeplabv3

BASE = 'mmseg::deeplabv3/deeplabv3_r50-d8_4xb2-80k_cityscapes-512x1024.py'

# Whole models in float64: the reference runs each domain's samples as a
# smaller batch, and float32 convolutions round differently for another
# batch size and another CPU (the OCR head amplified it to 1.6e-4 on an Intel
# Xeon). In float64 the same comparison holds to 1e-9 on any CPU.
TOL = dict(rtol=1e-9, atol=1e-9)


def _split_banks(cn_model):
    """Give bank 1 of every CN layer its own state; return both plain states."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in cn_model.modules():
            if isinstance(m, ConsistentNorm):
                m.weight[1].add_(0.3 *
                                 torch.randn(m.weight.shape[1:], generator=g))
                m.bias[1].add_(0.3 *
                               torch.randn(m.bias.shape[1:], generator=g))
                m.running_mean[1].add_(torch.rand(m.num_features, generator=g))
                m.running_var[1].mul_(1.5)
    return [{
        k:
        (v[d] if v.dim() and k.rsplit('.', 1)[0] in _cn_names(cn_model) else v)
        for k, v in cn_model.state_dict().items()
    } for d in range(2)]


def _cn_names(model):
    return {
        n
        for n, m in model.named_modules() if isinstance(m, ConsistentNorm)
    }


@pytest.mark.parametrize('build', [tiny_deeplabv3, tiny_cascade])
def test_one_mixed_forward_equals_plain_models_per_domain(build):
    torch.manual_seed(0)
    cn_model = enable_domain_routing(build(True).double())
    plain = [build(False).double(), build(False).double()]
    for p, state in zip(plain, _split_banks(cn_model)):
        p.load_state_dict(state)
    x = torch.randn(4, 3, 32, 32, dtype=torch.float64)
    domains = [1, 0, None, 1]  # None: no domain_idx -> domain 0
    samples = data_samples(domains, (32, 32))
    for mode in ('train', 'eval'):
        for m in [cn_model] + plain:
            m.train(mode == 'train')
        out = cn_model(x, samples, mode='tensor')
        ref = torch.empty_like(out)
        for d in (0, 1):
            sel = torch.tensor(
                [i for i, k in enumerate(domains) if (k or 0) == d])
            ref[sel] = plain[d](x[sel], mode='tensor')
        torch.testing.assert_close(out, ref, **TOL)


def test_loss_mode_trains_each_bank_on_its_domain():
    model = enable_domain_routing(tiny_deeplabv3(True)).train()
    x = torch.randn(2, 3, 32, 32)
    losses = model(x, data_samples([1, 1], (32, 32)), mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    bn = model.backbone.stem[1]
    assert bn.num_batches_tracked.tolist() == [0, 1]
    assert torch.all(
        bn.weight.grad[0] == 0) and bn.weight.grad[1].abs().sum() > 0
    with pytest.raises(RuntimeError, match='without domain routing'):
        model(x, mode='tensor')  # no data samples: nothing to route by


def test_fold_cn_gives_the_plain_model_of_that_bank():
    cn_model = tiny_deeplabv3(True).double()
    plain = tiny_deeplabv3(False).double()
    plain.load_state_dict(_split_banks(cn_model)[1])
    folded = fold_cn(copy.deepcopy(cn_model), domain=1).eval()
    assert [type(m) for m in folded.modules()] == \
        [type(m) for m in plain.modules()]
    assert sum(p.numel() for p in folded.parameters()) == \
        sum(p.numel() for p in plain.parameters())
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    torch.testing.assert_close(
        folded(x, mode='tensor'),
        plain.eval()(x, mode='tensor'), **TOL)
    enable_domain_routing(cn_model).eval()
    torch.testing.assert_close(
        cn_model(x, data_samples([1, 1], (32, 32)), mode='tensor'),
        folded(x, mode='tensor'), **TOL)
    with pytest.raises(ValueError, match='fold_cn\\(domain=2\\)'):
        fold_cn(cn_model, domain=2)


def test_config_inheriting_mmseg_deeplabv3_with_custom_imports():
    cfg = Config.fromstring(
        f"""
_base_ = ['{BASE}']
custom_imports = dict(imports=['cn_seg'], allow_failed_imports=False)
cn = dict(type='CN', num_domains=2, norm_cfg=dict(type='SyncBN'),
          requires_grad=True)
model = dict(
    data_preprocessor=dict(size=(64, 64)),
    backbone=dict(norm_cfg=cn),
    decode_head=dict(norm_cfg=cn),
    auxiliary_head=dict(norm_cfg=cn))
custom_hooks = [dict(type='DomainRoutingHook')]
""",
        file_format='.py')
    model = MODELS.build(cfg.model)
    plain = MODELS.build(
        Config.fromstring(f"_base_ = ['{BASE}']", '.py').model)
    num_bn = sum(isinstance(m, _BatchNorm) for m in plain.modules())
    num_cn = sum(isinstance(m, ConsistentNorm) for m in model.modules())
    assert num_cn == num_bn  # every SyncBN of mmseg's model became CN
    enable_domain_routing(model).train()
    # Two samples per bank: ASPP's image pooling normalizes 1x1 features.
    losses = model(
        torch.randn(4, 3, 64, 64),
        data_samples([0, 0, 1, 1], (64, 64)),
        mode='loss')
    assert set(losses) >= {'decode.loss_ce', 'aux.loss_ce'}
    assert torch.isfinite(losses['decode.loss_ce'])
