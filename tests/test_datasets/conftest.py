"""Tiny synthetic domains, generated and converted once per test session."""
import pytest

from cn_seg.datasets.converters import cityscapes, gta5
from cn_seg.datasets.synthetic import make_synthetic_domains

from .synthetic_data import NUM_TRAIN, NUM_VAL


@pytest.fixture(scope='session')
def synthetic(tmp_path_factory):
    """Roots of the converted synthetic ``cityscapes`` and ``gta5`` domains."""
    roots = make_synthetic_domains(
        str(tmp_path_factory.mktemp('synthetic')), seed=0,
        num_train=NUM_TRAIN, num_val=NUM_VAL)
    assert cityscapes.main([roots['cityscapes']]) == 0
    assert gta5.main([roots['gta5']]) == 0
    return roots
