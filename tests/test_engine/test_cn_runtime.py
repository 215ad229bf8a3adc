"""Every shipped config carries the hooks that make a run safe.

They come from ``configs/_base_/cn_runtime.py``, so mmseg's own
``tools/train.py`` (or ``mim train``) gives the run cn_seg's tools give:
safe loading, the checkpoint check, random states in checkpoints, domain
routing, atomic checkpoint writes, and a distributed timeout of its own.
"""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    p for p in glob.glob(
        osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    if f'{osp.sep}_base_{osp.sep}' not in p)
HOOKS = [
    'SafeLoadingHook', 'NormStateCheckHook', 'RandomStateHook',
    'DomainRoutingHook'
]


def test_every_config_is_found():
    assert len(CONFIGS) >= 12


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_lists_the_safety_hooks(path):
    cfg = Config.fromfile(path)
    assert [h['type'] for h in cfg.custom_hooks] == HOOKS
    assert cfg.default_hooks.checkpoint.type == 'AtomicCheckpointHook'
    timeout = cfg.env_cfg.dist_cfg.timeout
    assert isinstance(timeout, (int, float)) and 0 < timeout < 1800
    assert 'cn_seg' in cfg.custom_imports.imports
