"""Which backend runs a CN layer's per-domain batch norm: one place.

``CN_SEG_BACKEND`` = ``auto`` (default) | ``cpu`` | ``triton`` | ``aten``,
or ``backend=`` in a layer's config (which wins over the variable):

- ``auto``: the C++ kernels for float32/float64 CPU tensors (said once if
  the install did not build them), Triton on CUDA when triton imports, ATen's
  kernels otherwise;
- ``cpu``, ``triton``, ``aten`` force one (tests, benchmarks, debugging); a
  forced backend that cannot take an input is a ``ValueError`` that says why.
  ``CN_SEG_BACKEND=triton`` runs the Triton kernels on CPU tensors when
  ``TRITON_INTERPRET=1`` is set before the first kernel launch.

The choice is resolved once per (choice, device, dtype) and cached; a name
that is no backend is an error at the first forward pass of any CN layer,
in training and in evaluation.
"""
import functools
import os
import warnings
from typing import Optional

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


def backend_choice(layer_choice: Optional[str] = None) -> str:
    """The backend asked for: the layer's ``backend=``, else
    ``CN_SEG_BACKEND``, else ``auto``; checked to name a backend.

    Args:
        layer_choice (str, optional): The layer's ``backend=``.

    Returns:
        str: ``'auto'`` or a key of :data:`BACKENDS`.

    Raises:
        ValueError: If the choice names no backend.
    """
    if layer_choice is not None:
        return check_choice(layer_choice, 'CN backend=')
    return check_choice(os.environ.get(ENV, 'auto'), f'{ENV}=')


@functools.lru_cache(maxsize=None)
def check_choice(choice: str, where: str) -> str:
    """``choice`` normalized, or a ValueError that names ``where`` it came
    from (``'CN_SEG_BACKEND='`` or ``'CN backend='``)."""
    name = choice.strip().lower() or 'auto'
    if name != 'auto' and name not in BACKENDS:
        raise ValueError(f'{where}{choice!r} is not a CN backend; use one of '
                         f"auto, {', '.join(BACKENDS)}.")
    return name


def select_backend(
        x: torch.Tensor,
        layer_choice: Optional[str] = None) -> DomainBatchNormBackend:
    """The backend for a training-mode CN input.

    Args:
        x (torch.Tensor): The layer input.
        layer_choice (str, optional): The layer's ``backend=``; None follows
            ``CN_SEG_BACKEND``.

    Returns:
        DomainBatchNormBackend: The backend.

    Raises:
        ValueError: If the choice names no backend, or names one that cannot
            take ``x``.
    """
    choice = backend_choice(layer_choice)
    return BACKENDS[_resolve(choice, x.device, x.dtype)]


@functools.lru_cache(maxsize=None)
def _resolve(choice: str, device: torch.device, dtype: torch.dtype) -> str:
    """The backend's name for inputs of ``dtype`` on ``device``."""
    if choice == 'auto':
        return _automatic(device, dtype)
    reason = why_unavailable(choice, device, dtype)
    if reason is not None:
        raise ValueError(
            f'CN backend {choice} cannot take {dtype} inputs on {device}: '
            f'{reason}. Unset {ENV} and backend= (or set them to auto) to '
            'let cn_seg choose.')
    return choice


def why_unavailable(name: str,
                    device='cpu',
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


def _automatic(device: torch.device, dtype: torch.dtype) -> str:
    if device.type == 'cpu':
        if why_unavailable('cpu', device, dtype) is None:
            return 'cpu'
        if not cpu_ops.available and dtype in (torch.float32, torch.float64):
            _say_without_kernels()
    elif device.type == 'cuda' and \
            why_unavailable('triton', device, dtype) is None:
        return 'triton'
    return 'aten'


def _say_without_kernels() -> None:
    warnings.warn(
        'cn_seg._C (the C++ CPU kernels of CN) was not built, so CN layers '
        'on the CPU run the slower ATen path (about 2x plain BN instead of '
        '0.7x). A standard `pip install .` builds without torch and skips '
        'them; rebuild with torch installed: `pip install '
        '--no-build-isolation -e .` (or `make env`).',
        stacklevel=4)
