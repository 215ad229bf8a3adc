"""After install_safe_loading(), every checkpoint source loads weights only.

A pickle payload is served over HTTP on 127.0.0.1 and loaded through the
real mmengine loaders (``http://``, ``open-mmlab://`` resolved through
``MMENGINE_HOME/open_mmlab.json``, a backbone's ``init_cfg`` Pretrained);
the payload's marker file must never appear, and a good checkpoint served
the same way still loads. ``import cn_seg`` alone changes nothing (checked
in a fresh process).
"""
import json
import os
import pickle
import subprocess
import sys
import threading

import pytest
import torch
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint
from torch import nn

from cn_seg.openmmlab.engine import install_safe_loading
from cn_seg.openmmlab.engine.safe_schemes import (is_weights_only_loader,
                                                  weights_only_loader)
from .checkpoint_server import serve, write_payload

FORCE = 'TORCH_FORCE_WEIGHTS_ONLY_LOAD'


@pytest.fixture(autouse=True)
def installed():
    install_safe_loading()


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A payload and a good checkpoint served over HTTP; an empty hub cache."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    folder = tmp_path / 'served'
    folder.mkdir()
    marker = tmp_path / 'pwned'
    write_payload(folder / 'evil.pth', marker)
    good = nn.Linear(2, 3)
    torch.save(
        dict(state_dict=good.state_dict(), meta=dict(iter=3)),
        folder / 'good.pth')
    with serve(folder) as url:
        yield dict(url=url, marker=marker, good=good, tmp_path=tmp_path)


def _refused(load, marker, url):
    with pytest.raises(pickle.UnpicklingError) as info:
        load()
    message = str(info.value)
    assert f'Refused to load the checkpoint {url}' in message
    assert 'weights_only=True' in message and 're-save' in message
    assert 'system' in message  # torch's reason: the global it refused
    assert not marker.exists()


def test_every_registered_scheme_is_guarded():
    """Enumerated from the registry, so a scheme mmengine adds is caught."""
    schemes = CheckpointLoader._schemes
    assert {
        '', 'http://', 'https://', 'open-mmlab://', 'openmmlab://',
        'torchvision://', 'modelzoo://', 'mmcls://', 'pavi://'
    } <= set(schemes)
    unguarded = [
        p for p, loader in schemes.items()
        if not is_weights_only_loader(loader)
    ]
    assert unguarded == []
    # mmengine still names the scheme in its log ("Loads checkpoint by http
    # backend").
    assert schemes['http://'].__name__ == 'load_from_http'


def test_http_payload_is_refused(served):
    url = f"{served['url']}/evil.pth"
    _refused(lambda: _load_checkpoint(url, map_location='cpu'),
             served['marker'], url)
    # Downloaded once; the cached copy is refused as well.
    _refused(lambda: load_checkpoint(nn.Linear(2, 3), url), served['marker'],
             url)


def test_http_good_checkpoint_loads(served):
    model = nn.Linear(2, 3)
    checkpoint = load_checkpoint(
        model, f"{served['url']}/good.pth", map_location='cpu')
    assert checkpoint['meta'] == dict(iter=3)
    torch.testing.assert_close(
        model.weight, served['good'].weight, rtol=0, atol=0)


def test_open_mmlab_name_is_refused(served, monkeypatch):
    """``open-mmlab://NAME`` resolves to a URL through MMENGINE_HOME."""
    home = served['tmp_path'] / 'mmengine_home'
    home.mkdir()
    (home / 'open_mmlab.json'
     ).write_text(f'{{"evil_r50": "{served["url"]}/evil.pth"}}')
    monkeypatch.setenv('MMENGINE_HOME', str(home))
    for prefix in ('open-mmlab://', 'openmmlab://'):
        with pytest.raises(pickle.UnpicklingError, match='Refused to load'):
            _load_checkpoint(prefix + 'evil_r50', map_location='cpu')
    assert not served['marker'].exists()


def test_backbone_pretrained_url_is_refused(served):
    """``init_cfg=dict(type='Pretrained', checkpoint=URL)``, as mmseg's
    ``model.pretrained`` becomes."""
    from mmseg.models.backbones import ResNetV1c
    backbone = ResNetV1c(
        depth=18,
        stem_channels=8,
        base_channels=8,
        init_cfg=dict(
            type='Pretrained', checkpoint=f"{served['url']}/evil.pth"))
    with pytest.raises(pickle.UnpicklingError, match='Refused to load'):
        backbone.init_weights()
    assert not served['marker'].exists()


def test_guard_overrides_an_explicit_weights_only_false(tmp_path):
    """What torch.hub does for URLs; any scheme's loader is held to it."""
    marker = tmp_path / 'pwned'
    path = write_payload(tmp_path / 'evil.pth', marker)

    def load_from_trusting(filename, map_location=None):
        return torch.load(
            filename, map_location=map_location, weights_only=False)

    guarded = weights_only_loader(load_from_trusting)
    assert weights_only_loader(guarded) is guarded
    with pytest.raises(pickle.UnpicklingError, match='Refused to load'):
        guarded(str(path))
    assert not marker.exists()


def test_a_load_refuses_to_run_if_the_policy_was_undone(tmp_path, monkeypatch):
    path = tmp_path / 'good.pth'
    torch.save(nn.Linear(2, 3).state_dict(), path)
    monkeypatch.delenv(FORCE)
    with pytest.raises(
            RuntimeError, match=r'Call install_safe_loading\(\) '
            'again'):
        _load_checkpoint(str(path))


def test_install_is_idempotent_under_threads():
    """Eight threads at once: each scheme wrapped exactly once."""
    threads = [threading.Thread(target=install_safe_loading) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for prefix, loader in CheckpointLoader._schemes.items():
        assert is_weights_only_loader(loader), prefix
        assert not is_weights_only_loader(loader.__wrapped__), prefix
    assert os.environ[FORCE] == '1'


# Run in a fresh process: what `import cn_seg` changes, and what
# install_safe_loading() changes.
_SNAPSHOT = """
import json, os, sys
import torch
import torch._dynamo  # registers torch's own safe globals when loaded
from mmengine.registry import HOOKS
from mmengine.runner.checkpoint import CheckpointLoader

def snapshot():
    return dict(
        schemes={p: id(f) for p, f in CheckpointLoader._schemes.items()},
        environ=dict(os.environ),
        safe_globals=sorted(map(str, torch.serialization.get_safe_globals())))

before = snapshot()
import cn_seg
after_import = snapshot()
registered = HOOKS.get('SafeLoadingHook') is not None
cn_seg.openmmlab.engine.install_safe_loading()
after_install = snapshot()
print(json.dumps(dict(before=before, after_import=after_import,
                      after_install=after_install, registered=registered)))
"""


def test_import_changes_nothing_but_registries():
    env = {k: v for k, v in os.environ.items() if k != FORCE}
    out = subprocess.run([sys.executable, '-c', _SNAPSHOT],
                         env=env,
                         check=True,
                         capture_output=True,
                         text=True).stdout
    state = json.loads(out.strip().splitlines()[-1])
    assert state['registered']
    assert state['after_import'] == state['before']
    # The explicit call is what changes the process.
    installed = state['after_install']
    assert installed['environ'][FORCE] == '1'
    assert installed['schemes'].keys() == state['before']['schemes'].keys()
    assert all(installed['schemes'][p] != i
               for p, i in state['before']['schemes'].items())
    assert any('HistoryBuffer' in g for g in installed['safe_globals'])


def test_a_scheme_registered_later_is_guarded_by_a_new_call(tmp_path):
    marker = tmp_path / 'pwned'
    path = write_payload(tmp_path / 'evil.pth', marker)
    prefix = 'cnsegtest://'

    def load_from_cnsegtest(filename, map_location=None):
        return torch.load(filename[len(prefix):], weights_only=False)

    CheckpointLoader.register_scheme(prefix, load_from_cnsegtest)
    try:
        install_safe_loading()
        with pytest.raises(pickle.UnpicklingError, match='Refused to load'):
            _load_checkpoint(prefix + str(path))
    finally:
        CheckpointLoader._schemes.pop(prefix)
    assert not marker.exists()


def test_force_no_weights_only_is_refused_with_the_fix(tmp_path, monkeypatch):
    path = tmp_path / 'good.pth'
    torch.save(nn.Linear(2, 3).state_dict(), path)
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    with pytest.raises(
            RuntimeError, match='Unset TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'):
        _load_checkpoint(str(path))
