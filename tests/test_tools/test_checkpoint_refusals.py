"""The tools refuse checkpoints that would run code or give a wrong model.

Through the real tools (in this process; each is a thin CLI over cn_seg)
on the tiny demo configs and synthetic data: a pickle payload served over
HTTP on 127.0.0.1 (``tools/test.py CONFIG URL``, ``tools/train.py --resume
URL``, ``tools/train.py CONFIG --cfg-options model.pretrained=URL``,
``tools/visualize_features.py CONFIG URL``) never creates its marker file;
checkpoints whose norm layers do not fit the config (2 CN banks into 3, CN
into BN) stop ``tools/test.py`` and ``tools/cn2bn.py`` with a message that
names the layers and the fix; a BN checkpoint into the CN config is still
tested.
"""
import json
import pickle

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from tests.test_engine.checkpoint_server import serve, write_payload

from ..processes import run_tool
from .tiny_demo import DEMO_BN, DEMO_CN, make_data, tiny_config

THREE_BANKS = """
norm_cfg = dict(type='CN', num_domains=3, norm_cfg=dict(type='SyncBN'),
                requires_grad=True)
model = dict(backbone=dict(norm_cfg=norm_cfg),
             decode_head=dict(norm_cfg=norm_cfg),
             auxiliary_head=dict(norm_cfg=norm_cfg))
"""


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    """Synthetic data, the tiny configs and a checkpoint of each model."""
    root = tmp_path_factory.mktemp('refusals')
    make_data(root, num_train=4, num_val=2)
    configs = dict(cn2=tiny_config(root, 'cn2.py', DEMO_CN),
                   cn3=tiny_config(root, 'cn3.py', DEMO_CN,
                                   extra=THREE_BANKS),
                   bn=tiny_config(root, 'bn.py', DEMO_BN))
    for name, config in configs.items():
        torch.manual_seed(0)
        model = MODELS.build(Config.fromfile(config).model)
        torch.save(dict(state_dict=model.state_dict(), meta=dict(iter=4)),
                   root / f'{name}.pth')
    return root


@pytest.fixture
def in_root(root, monkeypatch):
    monkeypatch.chdir(root)  # the configs' data_root is relative
    return root


@pytest.fixture
def payload_url(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    marker = tmp_path / 'pwned'
    served = tmp_path / 'served'
    served.mkdir()
    write_payload(served / 'evil.pth', marker)
    with serve(served) as url:
        yield f'{url}/evil.pth', marker


@pytest.mark.parametrize('tool', ['test.py', 'resume', 'pretrained',
                                  'visualize'])
def test_url_payload_never_runs(in_root, payload_url, tmp_path, tool):
    url, marker = payload_url
    with pytest.raises(pickle.UnpicklingError) as info:
        if tool == 'test.py':
            run_tool(tool, in_root / 'cn2.py', url, '--work-dir',
                     tmp_path / 'work')
        elif tool == 'resume':
            run_tool('train.py', in_root / 'cn2.py', '--resume', url,
                     '--work-dir', tmp_path / 'work')
        elif tool == 'pretrained':  # as the Table 6 configs' open-mmlab://
            run_tool('train.py', in_root / 'cn2.py', '--work-dir',
                     tmp_path / 'work', '--cfg-options',
                     f'model.pretrained={url}')
        else:
            run_tool('visualize_features.py', in_root / 'cn2.py', url,
                     '--out', tmp_path / 'features.png')
    message = str(info.value)
    assert f'Refused to load the checkpoint {url}' in message
    assert 're-save its state_dict' in message
    assert not marker.exists()


def test_two_banks_into_three_are_refused_by_test(in_root, tmp_path):
    with pytest.raises(ValueError) as info:
        run_tool('test.py', in_root / 'cn3.py', in_root / 'cn2.pth',
                 '--work-dir', tmp_path)
    message = str(info.value)
    assert message.startswith(f'Checkpoint {in_root / "cn2.pth"} does not '
                              'fit the normalization layers')
    assert 'set num_domains' in message
    assert 'backbone.stem.1.weight: checkpoint (2, 8), model (3, 8)' in message
    assert not list(tmp_path.glob('*/*.json'))  # no metrics reported


def test_cn_checkpoint_into_bn_config_is_refused_by_test(in_root, tmp_path):
    with pytest.raises(ValueError, match='tools/cn2bn.py CONFIG CHECKPOINT'):
        run_tool('test.py', in_root / 'bn.py', in_root / 'cn2.pth',
                 '--work-dir', tmp_path)


def test_cn2bn_refuses_a_checkpoint_with_other_banks(in_root, tmp_path):
    out = tmp_path / 'folded'
    with pytest.raises(ValueError, match='set num_domains'):
        run_tool('cn2bn.py', in_root / 'cn3.py', in_root / 'cn2.pth', out)
    assert not (out / 'model.pth').exists()


def test_bn_checkpoint_into_cn_config_is_tested(in_root, tmp_path):
    """As documented: a plain BN checkpoint fills every CN bank."""
    run_tool('test.py', in_root / 'cn2.py', in_root / 'bn.pth',
             '--work-dir', tmp_path)
    (result, ) = [p for p in tmp_path.glob('*/*.json')
                  if p.stem == p.parent.name]
    assert 'cityscapes/mIoU' in json.loads(result.read_text())
