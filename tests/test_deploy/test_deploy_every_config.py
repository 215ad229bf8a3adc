"""deploy_config on every shipped config, for every bank it has.

What ``tools/cn2bn.py`` writes for each config under ``configs/``: a config
without a cn_seg type, that survives its own dump and load, whose evaluator
mmseg builds and whose model (for the configs with CN layers) has the CN
model's state dict keys with plain norm layers only.
"""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmseg.registry import METRICS, MODELS

from cn_seg.openmmlab.deploy import deploy_config
from cn_seg.openmmlab.deploy.rules import is_ours, registered_class

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    osp.relpath(p, REPO) for p in glob.glob(
        osp.join(REPO, 'configs', '**', '*.py'), recursive=True))


def _dicts(obj):
    """Every dict in a nested config."""
    if isinstance(obj, dict):
        return [obj] + [d for v in obj.values() for d in _dicts(v)]
    if isinstance(obj, (list, tuple)):
        return [d for v in obj for d in _dicts(v)]
    return []


def _num_banks(cfg: Config) -> int:
    """The CN layers' bank count; 0 for a config without CN layers."""
    counts = {
        d.get('num_domains', 2)
        for d in _dicts(cfg.to_dict())
        if d.get('type') in ('CN', 'ConsistentNorm')
    }
    assert len(counts) <= 1, f'CN layers with bank counts {counts}'
    return counts.pop() if counts else 0


def test_every_config_is_listed():
    assert len(CONFIGS) >= 10
    assert 'configs/demo/cn_deeplabv3_r18-d8_1xb2-400_synthetic-cs-' \
        'multiscale-64x128.py' in CONFIGS


@pytest.mark.parametrize('config', CONFIGS)
def test_deploy_config_of_every_config(config, tmp_path):
    cfg = Config.fromfile(osp.join(REPO, config))
    num_banks = _num_banks(cfg)
    plain_model = None
    # A BN config (cn2bn refuses it) still deploys its data to bank 0.
    for bank in range(max(num_banks, 1)):
        plain = deploy_config(cfg, bank)
        for node in _dicts(plain.to_dict()):
            assert not is_ours(registered_class(node.get('type'))), \
                f'bank {bank}: {node["type"]} left in {config}'
        imports = plain.get('custom_imports', {}).get('imports', [])
        assert not [m for m in imports if m.startswith('cn_seg')]
        path = tmp_path / f'bank{bank}.py'
        plain.dump(str(path))
        assert Config.fromfile(str(path)).to_dict() == plain.to_dict()
        for key in ('val_evaluator', 'test_evaluator'):
            if key in plain:
                METRICS.build(plain[key])
        if num_banks and 'model' in plain and plain_model is None:
            plain_model = MODELS.build(plain.model)
    if plain_model is None:
        return  # a _base_ dataset config or a BN model: nothing to fold
    cn_model = MODELS.build(cfg.model)
    assert cn_model.state_dict().keys() == plain_model.state_dict().keys()
    norms = {
        type(m).__name__
        for m in plain_model.modules() if 'Norm' in type(m).__name__
    }
    assert norms == {'BatchNorm2d'}, f'{config}: {norms}'
