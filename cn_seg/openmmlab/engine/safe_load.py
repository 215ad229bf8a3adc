"""Let ``torch.load(weights_only=True)`` read mmengine's resume checkpoints.

torch >= 2.6 loads with ``weights_only=True`` by default and mmengine 0.10.7
calls ``torch.load(path, map_location=...)`` without the argument, so every
resume checkpoint fails to load: its ``message_hub`` holds
:class:`mmengine.logging.HistoryBuffer` objects with numpy arrays, and its
runtime info numpy scalars. Instead of turning ``weights_only`` off (which
lets a checkpoint run arbitrary code), this module allow-lists exactly the
globals that a Runner writes, found by saving and resuming real Runner
checkpoints:

- ``mmengine.logging.history_buffer.HistoryBuffer`` (the message hub's logs);
- ``numpy.ndarray`` with its ``_reconstruct`` helper, ``numpy.dtype``, the
  dtype classes of the numeric dtypes (booleans, integers, floats) and
  ``multiarray.scalar`` for numpy scalars (``eta``, metrics), under both
  module names numpy pickles them with (``numpy.core`` in numpy 1.x,
  ``numpy._core`` in 2.x). Object arrays stay refused (their dtype class is
  not listed);
- ``builtins.getattr``, but only as :func:`_history_buffer_statistic`: a
  HistoryBuffer pickles its statistics methods as ``getattr(HistoryBuffer,
  'mean')``; any other ``getattr`` in a checkpoint is refused.

``collections.OrderedDict``, tensors and plain Python containers are allowed
by torch already. :func:`cn_seg.openmmlab.engine.install_safe_loading`
checks the torch version (:func:`check_torch_version`) and applies the
registration; importing :mod:`cn_seg` does neither.
"""
import importlib
import pickle
from types import ModuleType
from typing import Callable, List, Tuple, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

#: The oldest torch whose checkpoint loading cn_seg can make safe.
MIN_TORCH = (2, 6)

# numpy 1.x pickles its helpers under ``numpy.core``, numpy 2.x under
# ``numpy._core``: both names refer to the same functions.
_NUMPY_CORE_NAMES = ('numpy.core', 'numpy._core')

# Numeric dtypes only: an object dtype would reach arbitrary pickled objects.
_NUMERIC_DTYPES = (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
                   np.uint16, np.uint32, np.uint64, np.float16, np.float32,
                   np.float64)

# The methods ``HistoryBuffer._set_default_statistics`` registers.
_HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


def _major_minor(version: str) -> Tuple[int, int]:
    """``(2, 6)`` for ``'2.6.0+cpu'``, ``'2.6.0a0+git...'`` and the like."""
    parts = version.split('+')[0].split('.')
    digits = [''.join(c for c in p if c.isdigit()) or '0' for p in parts[:2]]
    return int(digits[0]), int(digits[1])


def check_torch_version(version: str = torch.__version__) -> None:
    """Refuse a torch that cannot load checkpoints without running code.

    cn_seg promises that loading a checkpoint never runs code from it. That
    rests on torch >= 2.6: ``torch.load`` defaults to ``weights_only=True``
    (mmengine passes no ``weights_only``), ``TORCH_FORCE_WEIGHTS_ONLY_LOAD``
    overrides an explicit ``weights_only=False`` (torch.hub's default, used
    for URLs; see :mod:`cn_seg.openmmlab.engine.safe_schemes`), and
    ``torch.serialization.add_safe_globals`` (2.4) allow-lists mmengine's
    types. On an older torch every checkpoint mmengine loads would be
    unpickled with ``weights_only=False``.

    Args:
        version (str): The torch version. Default: the installed one.

    Raises:
        ImportError: If ``version`` is older than :data:`MIN_TORCH`.
    """
    if _major_minor(version) < MIN_TORCH:
        need = '.'.join(map(str, MIN_TORCH))
        raise ImportError(
            f'cn_seg needs torch>={need}, found torch {version}. With an '
            f'older torch, mmengine loads checkpoints with weights_only=False '
            'by default, so a checkpoint (a local file, an http(s):// or '
            'open-mmlab:// URL) could run code when loaded, and '
            'torch.serialization.add_safe_globals (torch>=2.4), which lets '
            '--resume read mmengine checkpoints safely, is missing. Install '
            f'torch>={need} and an mmcv built against it (pip install '
            '--no-build-isolation mmcv==2.1.0 after torch).')


def _multiarray_name(numpy_version: str = np.__version__) -> str:
    """The module that holds ``_reconstruct`` and ``scalar`` in this numpy.

    ``numpy._core`` is numpy 2's name; numpy 1.26 has a ``numpy._core``
    package too, but without ``multiarray`` in it.
    """
    major = _major_minor(numpy_version)[0]
    return 'numpy._core.multiarray' if major >= 2 else 'numpy.core.multiarray'


def _multiarray(numpy_version: str = np.__version__) -> ModuleType:
    return importlib.import_module(_multiarray_name(numpy_version))


def _history_buffer_statistic(owner: type, name: str) -> Callable:
    """``getattr`` restricted to the statistics methods of HistoryBuffer.

    Args:
        owner (type): The object ``getattr`` is called on in the pickle.
        name (str): The attribute name.

    Returns:
        Callable: ``HistoryBuffer.<name>``.

    Raises:
        pickle.UnpicklingError: For any other owner or name.
    """
    if owner is HistoryBuffer and name in _HISTORY_BUFFER_STATISTICS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'Refusing getattr({owner!r}, {name!r}) in a checkpoint: cn_seg only '
        'allows getattr(HistoryBuffer, <statistic>) as written by mmengine. '
        'Load this file with weights_only=False only if you trust its source.')


def checkpoint_safe_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    """The globals of mmengine checkpoints, as ``add_safe_globals`` takes them.

    Returns:
        list: Classes and functions, some paired with the full name under
        which they appear in a pickle.
    """
    safe = [
        HistoryBuffer, np.ndarray, np.dtype,
        (_history_buffer_statistic, 'builtins.getattr')
    ]
    safe += [type(np.dtype(t)) for t in _NUMERIC_DTYPES]
    multiarray = _multiarray()
    for core in _NUMPY_CORE_NAMES:
        safe.append(
            (multiarray._reconstruct, f'{core}.multiarray._reconstruct'))
        safe.append((multiarray.scalar, f'{core}.multiarray.scalar'))
    return safe


def register_checkpoint_safe_globals() -> None:
    """Allow-list :func:`checkpoint_safe_globals` for ``weights_only`` loads.

    Calling it again is harmless (torch keeps a set).
    """
    torch.serialization.add_safe_globals(checkpoint_safe_globals())
