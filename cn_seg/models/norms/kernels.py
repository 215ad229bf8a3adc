"""The compiled CPU kernels ``cn_seg._C``, when the install built them.

``setup.py`` compiles ``cn_seg/csrc`` if torch is importable at install time
(``make env`` installs that way). Without them every CN layer runs the
equivalent pure-PyTorch path. Callers read :data:`_C` through this module at
call time, so tests can switch the kernels off.
"""
import torch

try:
    from cn_seg import _C
except ImportError:  # pragma: no cover - depends on how cn_seg was installed
    _C = None


def cpu_kernels_for(x: torch.Tensor) -> bool:
    """Whether the fused per-domain batch-norm kernels can take ``x``.

    Args:
        x (torch.Tensor): A layer input.

    Returns:
        bool: True for float32/float64 CPU tensors when ``cn_seg._C`` exists.
    """
    return _C is not None and x.device.type == 'cpu' and \
        x.dtype in (torch.float32, torch.float64)
