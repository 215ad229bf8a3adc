"""Tiny synthetic domains for the benchmark tests, and their marker."""
import pytest

from cn_seg.datasets.converters import cityscapes, gta5
from cn_seg.datasets.synthetic import make_synthetic_domains


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'slow: trains real models end to end (about a minute or '
        'more on 2 cores); deselect with -m "not slow"')


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory):
    """A converted synthetic data root: 4 train and 2 val frames a domain."""
    root = str(tmp_path_factory.mktemp('synthetic'))
    roots = make_synthetic_domains(root, seed=1, num_train=4, num_val=2)
    assert cityscapes.main([roots['cityscapes']]) == 0
    assert gta5.main([roots['gta5']]) == 0
    return root
