"""What ``import cn_seg`` needs and registers.

The torch-only core runs in a process that refuses mmcv, mmengine and mmseg
(``torch_only_check.py``); with mmseg installed, a config's
``custom_imports=['cn_seg']`` registers every class; a broken OpenMMLab stack
under an installed mmseg is an error that says what to install.
"""
import os.path as osp
import subprocess
import sys

from ..processes import run_python

HERE = osp.dirname(osp.abspath(__file__))

REGISTERED = """
from mmengine.config import Config
from mmengine.registry import FUNCTIONS, MODELS as ROOT_MODELS
from mmengine.utils import import_modules_from_strings
cfg = Config(dict(custom_imports=dict(imports=['cn_seg'],
                                      allow_failed_imports=False)))
import_modules_from_strings(**cfg.custom_imports)
from mmseg.registry import (DATA_SAMPLERS, DATASETS, HOOKS, METRICS, MODELS,
                            TRANSFORMS)
import cn_seg
names = dict(
    root_models=(ROOT_MODELS, ['CN', 'ConsistentNorm']),
    models=(MODELS, ['DomainWeightedLoss']),
    datasets=(DATASETS, ['GTA5Dataset', 'MultiDomainDataset']),
    samplers=(DATA_SAMPLERS, ['DomainBalancedSampler',
                              'DomainBalancedBatchSampler']),
    transforms=(TRANSFORMS, ['TransformDomains', 'SetDomain',
                             'GaussianBlur']),
    functions=(FUNCTIONS, ['multi_view_collate']),
    metrics=(METRICS, ['MultiDomainIoUMetric']),
    hooks=(HOOKS, ['DomainRoutingHook', 'NormStateCheckHook',
                   'RandomStateHook', 'AtomicCheckpointHook']),
)
for kind, (registry, wanted) in names.items():
    for name in wanted:
        assert registry.get(name) is not None, (kind, name)
assert ROOT_MODELS.get('CN') is cn_seg.ConsistentNorm
print('registered')
"""

BROKEN_MMCV = """
import importlib.abc, sys
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'mmcv':
            raise ModuleNotFoundError(f'No module named {name!r}', name=name)
sys.meta_path.insert(0, Refuse())
try:
    import cn_seg
except ImportError as error:
    print(error)
else:
    print('imported')
"""


def test_core_works_where_openmmlab_is_absent(tmp_path):
    output = run_python([osp.join(HERE, 'torch_only_check.py')], tmp_path)
    assert output.splitlines()[-1] == 'OK []'


def test_custom_imports_registers_every_class(tmp_path):
    output = run_python(['-c', REGISTERED], tmp_path)
    assert output.splitlines()[-1] == 'registered'


def test_a_broken_stack_under_mmseg_says_what_to_install():
    result = subprocess.run([sys.executable, '-c', BROKEN_MMCV],
                            capture_output=True,
                            text=True,
                            check=True)
    message = result.stdout.strip()
    assert message != 'imported'
    assert "No module named 'mmcv'" in message
    assert "pip install 'cn_seg[mmseg]'" in message
