"""The tools refuse checkpoints that would run code or give a wrong model.

Through the real tools (in this process; each is a thin CLI over cn_seg)
on the tiny demo configs and synthetic data: a pickle payload served over
HTTP on 127.0.0.1 (``tools/test.py CONFIG URL``, ``tools/train.py --resume
URL``, ``tools/train.py CONFIG --cfg-options model.pretrained=URL``,
``tools/visualize_features.py CONFIG URL``), or through a ``mirror://``
scheme that a plugin in the config's ``custom_imports`` registers after
cn_seg is imported, never creates its marker file, nor does it through
mmseg's own ``tools/train.py`` (a fresh process); checkpoints whose norm
layers do not fit the config (2 CN banks into 3, CN into BN) stop
``tools/test.py`` and ``tools/cn2bn.py`` with a message that names the
layers and the fix; checkpoints without some weights of the model, or with
weights of other shapes, stop the four tools that measure or transform a
model; a BN checkpoint into the CN config is still tested, and training
from a partial checkpoint with ``load_from`` still runs.
"""
import json
import os
import os.path as osp
import pickle
import subprocess
import sys

import mmseg
import pytest
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import CheckpointLoader
from mmseg.registry import MODELS

from tests.test_engine.checkpoint_server import serve, write_payload
from ..processes import run_tool
from .tiny_demo import DEMO_BN, DEMO_CN, make_data, tiny_config

HERE = osp.dirname(osp.abspath(__file__))
MMSEG_TRAIN = osp.join(
    osp.dirname(mmseg.__file__), '.mim', 'tools', 'train.py')
FORCE = 'TORCH_FORCE_WEIGHTS_ONLY_LOAD'
MIRROR = """
custom_imports = dict(imports=['cn_seg', 'mirror_scheme'],
                      allow_failed_imports=False)
"""

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
    configs = dict(
        cn2=tiny_config(root, 'cn2.py', DEMO_CN),
        cn3=tiny_config(root, 'cn3.py', DEMO_CN, extra=THREE_BANKS),
        bn=tiny_config(root, 'bn.py', DEMO_BN))
    tiny_config(root, 'mirror.py', DEMO_CN, extra=MIRROR)
    for name, config in configs.items():
        torch.manual_seed(0)
        model = MODELS.build(Config.fromfile(config).model)
        torch.save(
            dict(state_dict=model.state_dict(), meta=dict(iter=4)),
            root / f'{name}.pth')
    state = torch.load(root / 'cn2.pth')['state_dict']
    # Every backbone conv weight removed; the classifier of 5 classes.
    torch.save(
        dict(
            state_dict={
                k: v
                for k, v in state.items()
                if not (k.startswith('backbone.') and v.dim() == 4)
            }), root / 'no_convs.pth')
    other = dict(state)
    other['decode_head.conv_seg.weight'] = other[
        'decode_head.conv_seg.weight'][:5]
    other['decode_head.conv_seg.bias'] = other['decode_head.conv_seg.bias'][:5]
    torch.save(dict(state_dict=other), root / 'five_classes.pth')
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


@pytest.fixture
def fresh_plugin(monkeypatch):
    """As in a new process: safe loading not installed, the plugin not yet
    imported (the config's custom_imports registers its scheme)."""
    monkeypatch.delenv(FORCE, raising=False)
    monkeypatch.syspath_prepend(HERE)

    def forget():
        CheckpointLoader._schemes.pop('mirror://', None)
        sys.modules.pop('mirror_scheme', None)

    forget()
    yield
    forget()


@pytest.mark.parametrize('how',
                         ['test.py', 'resume', 'load_from', 'pretrained'])
def test_plugin_scheme_payload_never_runs(in_root, payload_url, fresh_plugin,
                                          tmp_path, how):
    url, marker = payload_url
    mirror = url.replace('http://', 'mirror://')
    config = in_root / 'mirror.py'
    work = ['--work-dir', tmp_path / 'work']
    with pytest.raises(pickle.UnpicklingError) as info:
        if how == 'test.py':
            run_tool('test.py', config, mirror, *work)
        elif how == 'resume':
            run_tool('train.py', config, '--resume', mirror, *work)
        else:
            key = 'load_from' if how == 'load_from' else 'model.pretrained'
            run_tool('train.py', config, *work, '--cfg-options',
                     f'{key}={mirror}')
    assert f'Refused to load the checkpoint {mirror}' in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize('scheme', ['http', 'mirror'])
def test_mmseg_train_refuses_a_payload(in_root, payload_url, tmp_path, scheme):
    """mmseg's own tools/train.py, a fresh process: SafeLoadingHook (from
    the config's _base_) guards load_from, the plugin's scheme included."""
    url, marker = payload_url
    url = url.replace('http://', f'{scheme}://')
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([HERE,
                                    os.environ.get('PYTHONPATH', '')]),
        OMP_NUM_THREADS='1')
    env.pop(FORCE, None)
    done = subprocess.run([
        sys.executable, MMSEG_TRAIN, in_root / 'mirror.py', '--work-dir',
        tmp_path / 'work', '--cfg-options', f'load_from={url}'
    ],
                          cwd=in_root,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert done.returncode != 0
    assert f'Refused to load the checkpoint {url}' in done.stderr
    assert not marker.exists()


@pytest.mark.parametrize(
    'tool',
    ['test.py', 'cn2bn.py', 'calibrate_bank.py', 'visualize_features.py'])
def test_missing_weights_are_refused(in_root, tmp_path, tool):
    checkpoint = in_root / 'no_convs.pth'
    config = in_root / 'cn2.py'
    args = dict(
        test=[config, checkpoint, '--work-dir', tmp_path],
        cn2bn=[config, checkpoint, tmp_path / 'folded'],
        calibrate_bank=[
            config, checkpoint, '--images', in_root / 'data', '--bank', 1,
            '--out', tmp_path / 'out.pth'
        ],
        visualize_features=[config, checkpoint, '--out',
                            tmp_path / 'f.png'])[tool[:-3]]
    with pytest.raises(ValueError) as info:
        run_tool(tool, *args)
    message = str(info.value)
    assert message.startswith(f'Checkpoint {checkpoint} does not fit the '
                              'model built from the config')
    num_convs = sum(
        k.startswith('backbone.') and v.dim() == 4
        for k, v in torch.load(in_root / 'cn2.pth')['state_dict'].items())
    assert f'{num_convs} of ' in message and 'weights are missing' in message
    assert 'backbone.stem.0.weight' in message
    assert f'... and {num_convs - 5} more' in message
    assert 'train with load_from=CHECKPOINT' in message
    assert not list(tmp_path.glob('**/*.json'))  # no metrics reported
    assert not list(tmp_path.glob('**/*.pth'))  # nothing written


def test_weights_of_other_shapes_are_refused_by_test(in_root, tmp_path):
    with pytest.raises(ValueError) as info:
        run_tool('test.py', in_root / 'cn2.py', in_root / 'five_classes.pth',
                 '--work-dir', tmp_path)
    message = str(info.value)
    assert '2 of ' in message and 'weights have another shape' in message
    assert 'decode_head.conv_seg.weight: checkpoint (5, 64, 1, 1), model ' \
        '(19, 64, 1, 1)' in message


def test_training_from_a_partial_checkpoint_warns_and_runs(
        in_root, tmp_path, capsys):
    """Fine-tuning with load_from keeps mmengine's behaviour."""
    checkpoint = in_root / 'five_classes.pth'
    run_tool('train.py', in_root / 'cn2.py', '--work-dir', tmp_path,
             '--cfg-options', f'load_from={checkpoint}',
             'train_cfg.max_iters=1', 'train_cfg.val_interval=2')
    # mmengine prints the mismatches (its loader is given no logger).
    assert 'size mismatch for decode_head.conv_seg.weight' in \
        capsys.readouterr().out
    (log, ) = tmp_path.glob('*/*.log')
    assert f'Load checkpoint from {checkpoint}' in log.read_text()
    assert (tmp_path / 'iter_1.pth').exists()


@pytest.mark.parametrize('tool',
                         ['test.py', 'resume', 'pretrained', 'visualize'])
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
            run_tool('visualize_features.py', in_root / 'cn2.py', url, '--out',
                     tmp_path / 'features.png')
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
    run_tool('test.py', in_root / 'cn2.py', in_root / 'bn.pth', '--work-dir',
             tmp_path)
    (result, ) = [
        p for p in tmp_path.glob('*/*.json') if p.stem == p.parent.name
    ]
    assert 'cityscapes/mIoU' in json.loads(result.read_text())
