"""Shared pytest set-up: register cn_seg and mmseg modules, default scope
mmseg."""
import os

import pytest
import torch

os.environ.setdefault('OMP_NUM_THREADS', '2')
# Without a GPU, run CN's Triton kernels on the CPU with Triton's
# interpreter: it must be set before cn_seg (and triton) are imported.
if not torch.cuda.is_available():
    os.environ.setdefault('TRITON_INTERPRET', '1')


@pytest.fixture(autouse=True, scope='session')
def _safe_loading():
    """Load checkpoints as the tools do: the tests read the checkpoints their
    runs write (``import cn_seg`` alone does not install it)."""
    from cn_seg.openmmlab.engine import install_safe_loading
    install_safe_loading()


@pytest.fixture(autouse=True)
def _mmseg_scope():
    """Build configs the way mmseg's tools do: default scope ``mmseg``.

    Set before every test: a Runner built with another ``default_scope``
    (tests of the hooks use ``mmengine``) makes that scope current for the
    rest of the process, and registry lookups of later tests would then miss
    mmseg's and cn_seg's types, depending on the order the tests run in.
    """
    from mmengine.registry import init_default_scope

    import cn_seg  # noqa: F401  (registers CN, datasets, hooks, ...)
    init_default_scope('mmseg')
    yield


@pytest.fixture(params=['cpu', 'aten', 'triton'])
def backend(request, monkeypatch):
    """Run a test on each CN batch-norm backend (``CN_SEG_BACKEND``)."""
    from cn_seg.models.norms.backends import why_unavailable
    reason = why_unavailable(request.param, dtype=torch.float64)
    if reason is not None:
        pytest.skip(f'backend {request.param}: {reason}')
    monkeypatch.setenv('CN_SEG_BACKEND', request.param)
    return request.param
