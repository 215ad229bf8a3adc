"""The experiments' data (the shared synthetic domains) and their marker."""
import os.path as osp

import pytest

from ..synthetic import converted_domains


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'slow: trains real models end to end (about a minute or '
        'more on 2 cores); deselect with -m "not slow"')


@pytest.fixture(scope='session')
def synthetic_root():
    """The folder of the shared converted ``cityscapes`` and ``gta5``."""
    return osp.dirname(converted_domains()['cityscapes'])
