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


@pytest.fixture(params=['cpu', 'aten', 'triton', 'triton-split'])
def backend(request, monkeypatch):
    """Run a test on each CN batch-norm backend (``CN_SEG_BACKEND``).

    ``triton-split`` is the Triton backend with tiles of 32 values, a
    wide-launch target of 8 programs and reads of 16 values, so that the
    tests' small inputs take the split reductions (several chunks of whole
    samples or of positions, uneven last ones).
    """
    from cn_seg.models.norms.backends import BACKENDS, why_unavailable
    from cn_seg.models.norms.backends.triton_backend import TritonBackend
    from cn_seg.models.norms.backends.triton_plan import PlanLimits
    name = request.param.split('-')[0]
    reason = why_unavailable(name, dtype=torch.float64)
    if reason is not None:
        pytest.skip(f'backend {request.param}: {reason}')
    if request.param == 'triton-split':
        monkeypatch.setitem(
            BACKENDS, 'triton',
            TritonBackend(PlanLimits(tile=32, values=16, programs_per_sm=8)))
    monkeypatch.setenv('CN_SEG_BACKEND', name)
    return name
