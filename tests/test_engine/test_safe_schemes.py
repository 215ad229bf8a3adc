"""Every checkpoint source mmengine knows loads with weights_only=True.

A pickle payload is served over HTTP on 127.0.0.1 and loaded through the
real mmengine loaders (``http://``, ``open-mmlab://`` resolved through
``MMENGINE_HOME/open_mmlab.json``, a backbone's ``init_cfg`` Pretrained);
the payload's marker file must never appear, and a good checkpoint served
the same way still loads.
"""
import os
import pickle

import pytest
import torch
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint
from torch import nn

import cn_seg  # noqa: F401  (guards the schemes on import)
from cn_seg.openmmlab.engine.safe_schemes import (guard_checkpoint_schemes,
                                                  is_weights_only_loader,
                                                  weights_only_loader)

from .checkpoint_server import serve, write_payload


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A payload and a good checkpoint served over HTTP; an empty hub cache."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    folder = tmp_path / 'served'
    folder.mkdir()
    marker = tmp_path / 'pwned'
    write_payload(folder / 'evil.pth', marker)
    good = nn.Linear(2, 3)
    torch.save(dict(state_dict=good.state_dict(), meta=dict(iter=3)),
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
    assert {'', 'http://', 'https://', 'open-mmlab://', 'openmmlab://',
            'torchvision://', 'modelzoo://', 'mmcls://',
            'pavi://'} <= set(schemes)
    unguarded = [p for p, loader in schemes.items()
                 if not is_weights_only_loader(loader)]
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
    checkpoint = load_checkpoint(model, f"{served['url']}/good.pth",
                                 map_location='cpu')
    assert checkpoint['meta'] == dict(iter=3)
    torch.testing.assert_close(model.weight, served['good'].weight,
                               rtol=0, atol=0)


def test_open_mmlab_name_is_refused(served, monkeypatch):
    """``open-mmlab://NAME`` resolves to a URL through MMENGINE_HOME."""
    home = served['tmp_path'] / 'mmengine_home'
    home.mkdir()
    (home / 'open_mmlab.json').write_text(
        f'{{"evil_r50": "{served["url"]}/evil.pth"}}')
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
        depth=18, stem_channels=8, base_channels=8,
        init_cfg=dict(type='Pretrained',
                      checkpoint=f"{served['url']}/evil.pth"))
    with pytest.raises(pickle.UnpicklingError, match='Refused to load'):
        backbone.init_weights()
    assert not served['marker'].exists()


def test_guard_overrides_an_explicit_weights_only_false(tmp_path):
    """What torch.hub does for URLs; any scheme's loader is held to it."""
    marker = tmp_path / 'pwned'
    path = write_payload(tmp_path / 'evil.pth', marker)

    def load_from_trusting(filename, map_location=None):
        return torch.load(filename, map_location=map_location,
                          weights_only=False)

    guarded = weights_only_loader(load_from_trusting)
    assert weights_only_loader(guarded) is guarded
    with pytest.raises(pickle.UnpicklingError, match='Refused to load'):
        guarded(str(path))
    assert not marker.exists()
    assert 'TORCH_FORCE_WEIGHTS_ONLY_LOAD' not in os.environ


def test_a_scheme_registered_later_is_guarded_by_a_new_call(tmp_path):
    marker = tmp_path / 'pwned'
    path = write_payload(tmp_path / 'evil.pth', marker)
    prefix = 'cnsegtest://'

    def load_from_cnsegtest(filename, map_location=None):
        return torch.load(filename[len(prefix):], weights_only=False)

    CheckpointLoader.register_scheme(prefix, load_from_cnsegtest)
    try:
        guard_checkpoint_schemes()
        with pytest.raises(pickle.UnpicklingError, match='Refused to load'):
            _load_checkpoint(prefix + str(path))
    finally:
        CheckpointLoader._schemes.pop(prefix)
    assert not marker.exists()


def test_force_no_weights_only_is_refused_with_the_fix(tmp_path, monkeypatch):
    path = tmp_path / 'good.pth'
    torch.save(nn.Linear(2, 3).state_dict(), path)
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    with pytest.raises(RuntimeError,
                       match='Unset TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'):
        _load_checkpoint(str(path))
