"""Shared pytest set-up: register cn_seg and mmseg modules, default scope mmseg."""
import os

import pytest

os.environ.setdefault('OMP_NUM_THREADS', '2')


@pytest.fixture(autouse=True, scope='session')
def _mmseg_scope():
    """Build configs the way mmseg's tools do: default scope ``mmseg``."""
    from mmengine.registry import init_default_scope

    import cn_seg  # noqa: F401  (registers CN, datasets, hooks, ...)
    init_default_scope('mmseg')
    yield
