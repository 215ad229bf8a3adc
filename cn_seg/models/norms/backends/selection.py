"""Which backend runs a CN layer's per-domain batch norm: one place.

``CN_SEG_BACKEND`` = ``auto`` (default) | ``cpu`` | ``triton`` | ``aten``:

- ``auto``: the C++ kernels for float32/float64 CPU tensors (said once if
  the install did not build them), Triton on CUDA when triton imports, ATen's
  kernels otherwise;
- ``cpu``, ``triton``, ``aten`` force one (tests, benchmarks, debugging); a
  forced backend that cannot take an input is a ``ValueError`` that says why.
  ``CN_SEG_BACKEND=triton`` runs the Triton kernels on CPU tensors when
  ``TRITON_INTERPRET=1`` is set before the first kernel launch.
"""
import os
import warnings

import torch

from . import cpu_ops
from .aten import AtenBackend
from .bank_state import BankState
from .base import DomainBatchNormBackend
from .cpu import CPUBackend
from .triton_backend import TritonBackend

#: The environment variable that forces a backend.
ENV = 'CN_SEG_BACKEND'
BACKENDS = {b.name: b for b in (CPUBackend(), TritonBackend(), AtenBackend())}
_said_no_kernels = False


def select_backend(x: torch.Tensor,
                   state: BankState) -> DomainBatchNormBackend:
    """The backend for a training-mode CN input, by ``CN_SEG_BACKEND``.

    Args:
        x (torch.Tensor): The layer input.
        state (BankState): The layer's state.

    Returns:
        DomainBatchNormBackend: The backend.

    Raises:
        ValueError: If ``CN_SEG_BACKEND`` names no backend, or names one that
            cannot take ``x``.
    """
    choice = os.environ.get(ENV, 'auto').strip().lower() or 'auto'
    if choice == 'auto':
        return _automatic(x, state)
    if choice not in BACKENDS:
        raise ValueError(f'{ENV}={choice!r} is not a CN backend; use one of '
                         f"auto, {', '.join(BACKENDS)}.")
    backend = BACKENDS[choice]
    reason = backend.unsupported(x, state)
    if reason is not None:
        raise ValueError(
            f'{ENV}={choice} cannot take this CN layer input '
            f'({tuple(x.shape)}, {x.dtype}, {x.device}): {reason}. Unset '
            f'{ENV} (or set it to auto) to let cn_seg choose.')
    return backend


def why_unavailable(name: str, device='cpu',
                    dtype: torch.dtype = torch.float32):
    """Why backend ``name`` cannot take ``dtype`` tensors on ``device`` here
    (no triton, ``cn_seg._C`` not built, a dtype it lacks), or None.

    Args:
        name (str): ``'cpu'``, ``'triton'`` or ``'aten'``.
        device (str | torch.device): The device. Default: 'cpu'.
        dtype (torch.dtype): The input dtype. Default: torch.float32.

    Returns:
        str | None: The reason, or None if the backend can run.
    """
    probe = torch.zeros(2, 1, device=device, dtype=dtype)
    return BACKENDS[name].unsupported(
        probe, BankState(None, None, None, None, None, 0.1, 1e-5, 1, True))


def _automatic(x: torch.Tensor, state: BankState) -> DomainBatchNormBackend:
    if x.device.type == 'cpu':
        if BACKENDS['cpu'].unsupported(x, state) is None:
            return BACKENDS['cpu']
        _say_once_without_kernels(x)
    elif x.device.type == 'cuda' and \
            BACKENDS['triton'].unsupported(x, state) is None:
        return BACKENDS['triton']
    return BACKENDS['aten']


def _say_once_without_kernels(x: torch.Tensor) -> None:
    global _said_no_kernels
    if cpu_ops.available or _said_no_kernels or \
            x.dtype not in (torch.float32, torch.float64):
        return
    _said_no_kernels = True
    warnings.warn(
        'cn_seg._C (the C++ CPU kernels of CN) was not built, so CN layers '
        'on the CPU run the slower ATen path (about 2x plain BN instead of '
        '0.7x). A standard `pip install .` builds without torch and skips '
        'them; rebuild with torch installed: `pip install '
        '--no-build-isolation -e .` (or `make env`).', stacklevel=3)
