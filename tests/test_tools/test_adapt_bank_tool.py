"""tools/test.py --adapt-bank on a tiny CN demo model and synthetic frames.

The reference reads the test stream another way (mmseg's dataset built from
the config, batches of two, the model's data preprocessor) and runs it
through bank 1's plain model whose BNs update their statistics from each
input before normalizing it (``tests/test_models/test_adapt_bank.py``).
"""
import json
import os.path as osp
import runpy

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner.checkpoint import _load_checkpoint
from mmseg.registry import DATASETS

import cn_seg  # noqa: F401
from cn_seg.openmmlab.engine import build_model_to_load
from ..processes import TOOLS
from ..test_models.test_adapt_bank import reference
from .test_calibrate_bank_tool import TOL32, _chdir, _sha, cn_checkpoint
from .tiny_demo import make_data, tiny_config

TOOL = runpy.run_path(osp.join(TOOLS, 'test.py'))


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """Tiny data, a tiny CN config tested in batches of two, a checkpoint
    whose banks differ."""
    root = tmp_path_factory.mktemp('adapt')
    make_data(root, num_train=6, num_val=2)
    config = tiny_config(
        root,
        'cn.py',
        extra='test_dataloader = dict('
        'batch_size=2, num_workers=0, '
        'persistent_workers=False)\n')
    return root, config, cn_checkpoint(root, config)


def test_adapted_bank_follows_the_stream_and_the_others_stay(run):
    root, config, checkpoint = run
    digest = _sha(checkpoint)
    out = root / 'adapted.pth'
    with _chdir(root):
        TOOL['main']([
            config, checkpoint, '--work-dir', 'test_adapt', '--adapt-bank',
            '0', '--from-bank', '1', '--adapt-out',
            str(out)
        ])
    assert _sha(checkpoint) == digest
    metrics = json.load(open(next((root / 'test_adapt').glob('*/*.json'))))
    assert {'cityscapes/mIoU', 'gta5/mIoU'} <= set(metrics)
    written = _load_checkpoint(str(out), map_location='cpu')
    entry = written['meta']['cn_seg_adaptation'][-1]
    assert written['meta']['seed'] == 3
    assert (entry['bank'], entry['from_bank'], entry['momentum'],
            entry['num_batches'], entry['batch_size']) == (0, 1, None, 2, 2)
    assert entry['checkpoint'] == osp.abspath(checkpoint)

    with _chdir(root):
        cfg = Config.fromfile(config)
        model = build_model_to_load(cfg)
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
        samples = [dataset[i] for i in range(len(dataset))]
    before = torch.load(checkpoint)['state_dict']
    model.load_state_dict(before)
    plain = reference(model.eval(), 1, None)
    with torch.no_grad():
        for batch in (samples[:2], samples[2:]):
            data = plain.data_preprocessor(pseudo_collate(batch), False)
            plain(data['inputs'], mode='tensor')
    ref = plain.state_dict()
    cn_layers = {
        n
        for n, m in model.named_modules()
        if isinstance(m, cn_seg.ConsistentNorm)
    }
    checked = 0
    for key, value in written['state_dict'].items():
        layer, kind = key.rsplit('.', 1)
        if layer not in cn_layers:
            assert torch.equal(value, before[key]), key
            continue
        assert torch.equal(value[1], before[key][1]), key  # bit for bit
        if kind in ('weight', 'bias'):
            assert torch.equal(value[0], before[key][1]), key
        elif kind == 'num_batches_tracked':
            assert int(value[0]) == (0 if layer.startswith('auxiliary_head')
                                     else 2), key
        elif layer.startswith('auxiliary_head'):  # not run in testing
            assert torch.equal(value[0], before[key][1]), key
        else:
            torch.testing.assert_close(value[0], ref[f'{layer}.bn.{kind}'],
                                       **TOL32)
            checked += 1
    assert checked > 40


def test_adapt_options_without_adapt_bank_are_refused(run):
    root, config, checkpoint = run
    with pytest.raises(ValueError, match='go with --adapt-bank K'):
        TOOL['main']([config, checkpoint, '--from-bank', '1'])
