"""tools/calibrate_bank.py on a tiny CN demo model and synthetic frames.

The reference reads the same frames another way: mmseg's CityscapesDataset
with the config's test pipeline (labels loaded and unused), the model's data
preprocessor, and the plain BN model of the source bank (``fold_cn``) in
training mode with ``momentum=None``.
"""
import contextlib
import copy
import hashlib
import os
import os.path as osp
import runpy

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner.checkpoint import _load_checkpoint
from mmseg.registry import DATASETS
from torch import nn

import cn_seg
from cn_seg.openmmlab.engine import build_model_to_load
from ..processes import TOOLS
from .tiny_demo import DEMO_BN, make_data, tiny_config

TOOL = runpy.run_path(osp.join(TOOLS, 'calibrate_bank.py'))
# float32: the tool's CN kernels and the reference's ATen batch norm sum in
# other orders (about 1e-7 relative per layer), compounded over ~30 layers.
# A sum's rounding scales with its largest terms, not with the result: a
# mean near 0 among channels of magnitude M carries an error of about
# 1e-5 * M (an error of 1.8e-5 against atol 1e-5 was seen once, on a loaded
# machine), so the absolute tolerance follows the tensor's largest value.
TOL32 = dict(rtol=1e-4, atol=1e-5)


def _atol(ref: torch.Tensor) -> float:
    return TOL32['atol'] * max(1.0, ref.abs().max().item())


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """Tiny data, a tiny CN config and a checkpoint whose banks differ."""
    root = tmp_path_factory.mktemp('calibrate')
    make_data(root, num_train=5, num_val=1)
    config = tiny_config(root, 'cn.py')
    return root, config, cn_checkpoint(root, config)


def cn_checkpoint(root, config) -> str:
    """A checkpoint of ``config``'s CN model whose banks differ (seed 0)."""
    with _chdir(root):
        model = build_model_to_load(Config.fromfile(config))
    torch.manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, cn_seg.ConsistentNorm):
                m.weight.copy_(1 + 0.2 * torch.randn_like(m.weight))
                m.bias.copy_(0.2 * torch.randn_like(m.bias))
    checkpoint = root / 'cn.pth'
    torch.save(
        dict(meta=dict(seed=3), state_dict=model.state_dict()), checkpoint)
    return str(checkpoint)


@contextlib.contextmanager
def _chdir(path):
    """The demo configs name their data relative to the working folder."""
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _sha(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


def _tool(root, *args):
    with _chdir(root):
        TOOL['main']([str(a) for a in args])


def test_calibrates_bank_like_plain_bn_on_the_same_frames(run, capsys):
    root, config, checkpoint = run
    digest = _sha(checkpoint)
    images = root / 'data/synthetic/cityscapes/leftImg8bit/train'
    out = root / 'out' / 'calibrated.pth'
    _tool(root, config, checkpoint, '--images', images, '--bank', 0,
          '--from-bank', 1, '--batch-size', 3, '--out', out)
    assert "5/5" in capsys.readouterr().out  # the progress bar
    assert _sha(checkpoint) == digest
    written = _load_checkpoint(str(out), map_location='cpu')
    assert set(written) == {'meta', 'state_dict'}
    entry = written['meta']['cn_seg_calibration'][-1]
    assert written['meta']['seed'] == 3
    assert (entry['bank'], entry['from_bank'], entry['num_images'],
            entry['num_batches']) == (0, 1, 5, 2)
    assert entry['checkpoint'] == osp.abspath(checkpoint)

    # The reference: frames from mmseg's dataset, bank 1's plain model.
    with _chdir(root):
        cfg = Config.fromfile(config)
        model = build_model_to_load(cfg)
        dataset = DATASETS.build(
            dict(
                cfg.test_dataloader.dataset.datasets[0],
                data_prefix=dict(
                    img_path='leftImg8bit/train',
                    seg_map_path='gtFine/train')))
        samples = [dataset[i] for i in range(len(dataset))]
    model.load_state_dict(torch.load(checkpoint)['state_dict'])
    plain = cn_seg.fold_cn(copy.deepcopy(model), 1).eval()
    for m in plain.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = None
            m.reset_running_stats()
            m.train()
    with torch.no_grad():
        for batch in (samples[:3], samples[3:]):
            data = plain.data_preprocessor(pseudo_collate(batch), False)
            plain(data['inputs'], mode='tensor')
    ref, before = plain.state_dict(), torch.load(checkpoint)['state_dict']
    checked = 0
    for key, value in written['state_dict'].items():
        if before[key].shape == ref.get(key, before[key]).shape:
            assert torch.equal(value, before[key]), key  # not a bank
            continue
        layer, kind = key.rsplit('.', 1)
        assert torch.equal(value[1], before[key][1]), key
        if kind in ('weight', 'bias'):  # bank 1's
            assert torch.equal(value[0], before[key][1]), key
        elif int(ref[f'{layer}.num_batches_tracked']) == 0:
            # The auxiliary head: not run in mode='tensor', kept as it was.
            assert layer.startswith('auxiliary_head'), layer
            assert torch.equal(value[0], before[key][0]), key
        elif kind == 'num_batches_tracked':
            assert int(value[0]) == 2
        else:
            torch.testing.assert_close(
                value[0], ref[key], rtol=TOL32['rtol'], atol=_atol(ref[key]))
            checked += 1
    assert checked > 40


def test_find_images_spreads_num_images(tmp_path):
    for i in range(10):
        (tmp_path / 'seq' if i % 2 else tmp_path).mkdir(exist_ok=True)
        (tmp_path / ('seq' if i % 2 else '') / f'{i}.PNG').write_bytes(b'')
    (tmp_path / 'notes.txt').write_text('not a frame')
    paths = TOOL['find_images'](str(tmp_path))
    assert len(paths) == 10 and paths == sorted(paths)
    assert TOOL['find_images'](str(tmp_path),
                               4) == [paths[i] for i in (0, 2, 5, 7)]
    assert TOOL['batches_of'](list('abcdefg'),
                              3) == [list('abc'), list('defg')]


def test_pipeline_is_the_one_the_bank_is_tested_with():
    """Bank 1 of the multi-scale demo sees half-size views (SetDomain parts
    of a ConcatDataset): it is calibrated with their pipeline, as its
    deployed model is tested."""
    from cn_seg.openmmlab.deploy.deploy_config import deploy_config
    config = Config.fromfile(
        osp.join(
            TOOLS, '..', 'configs', 'demo',
            'cn_deeplabv3_r18-d8_1xb2-400_synthetic-cs-multiscale-64x128.py'))
    for bank in (0, 1):
        deployed = deploy_config(config, bank)
        (kept, *_) = deployed.test_dataloader.dataset.datasets
        expected = [t for t in kept.pipeline if t['type'] != 'LoadAnnotations']
        assert TOOL['test_pipeline'](config, bank) == expected
    assert TOOL['test_pipeline'](config, 0) != \
        TOOL['test_pipeline'](config, 1)


def test_bad_inputs_are_clear_errors(run, tmp_path):
    root, config, checkpoint = run
    digest = _sha(checkpoint)
    images = root / 'data/synthetic/cityscapes/leftImg8bit/train'
    out = tmp_path / 'out.pth'
    base = [config, checkpoint, '--images', images, '--out', out]
    (tmp_path / 'empty').mkdir()
    with pytest.raises(
            ValueError,
            match=r'No images found under .*empty '
            r'\(searched recursively for .jpg, .jpeg, .png'):
        _tool(root, *base[:3], tmp_path / 'empty', '--bank', 0, '--out', out)
    with pytest.raises(ValueError, match='bank=2 is not a bank of the model'):
        _tool(root, *base, '--bank', 2)
    with pytest.raises(ValueError, match='from_bank=5 is not a bank'):
        _tool(root, *base, '--bank', 0, '--from-bank', 5)
    with pytest.raises(ValueError, match='is the input checkpoint'):
        _tool(root, *base[:4], '--bank', 0, '--out', checkpoint)
    bad = tmp_path / 'frames'
    bad.mkdir()
    (bad / 'a.png').write_bytes(b'not a png')
    (bad / 'b.png').write_bytes(b'not a png')
    with pytest.raises(ValueError, match=r'Cannot read image .*a\.png'):
        _tool(root, *base[:3], bad, '--bank', 0, '--out', out)
    bn_config = tiny_config(root, 'bn.py', base=DEMO_BN)
    with _chdir(root):
        bn = build_model_to_load(Config.fromfile(bn_config))
    torch.save(dict(state_dict=bn.state_dict()), tmp_path / 'bn.pth')
    with pytest.raises(ValueError, match='has no CN layer; convert'):
        _tool(root, bn_config, tmp_path / 'bn.pth', *base[2:], '--bank', 0)
    assert not out.exists() and _sha(checkpoint) == digest


def test_unclear_inputs_name_the_file_or_option(run, tmp_path):
    """Frames of two sizes, --out a folder, --num-images 1."""
    import shutil
    root, config, checkpoint = run
    out = tmp_path / 'out.pth'
    mixed = tmp_path / 'mixed'
    mixed.mkdir()
    frames = sorted((root / 'data/synthetic').glob('*/images/*.png')) + \
        sorted((root / 'data/synthetic').glob('*/leftImg8bit/train/*/*.png'))
    # A GTA5 frame (240x132) resizes to 233x128, a Cityscapes one to 256x128.
    gta5 = next(p for p in frames if '/gta5/' in str(p))
    cityscapes = next(p for p in frames if '/cityscapes/' in str(p))
    shutil.copy(cityscapes, mixed / 'a.png')
    shutil.copy(gta5, mixed / 'b.png')
    with pytest.raises(ValueError) as info:
        _tool(root, config, checkpoint, '--images', mixed, '--bank', 0,
              '--out', out)
    message = str(info.value)
    assert message.startswith(f'{mixed / "b.png"} is 233x128 after the test '
                              f'pipeline, but {mixed / "a.png"}, in the same '
                              'batch, is 256x128')
    assert 'keep_ratio=False' in message

    images = root / 'data/synthetic/cityscapes/leftImg8bit/train'
    with pytest.raises(
            ValueError,
            match=f'--out {tmp_path} is a folder; '
            'give the checkpoint file to write'):
        _tool(root, config, checkpoint, '--images', images, '--bank', 0,
              '--out', tmp_path)
    with pytest.raises(ValueError, match='--num-images 1: give at least 2'):
        _tool(root, config, checkpoint, '--images', images, '--bank', 0,
              '--num-images', 1, '--out', out)
    assert not out.exists()
