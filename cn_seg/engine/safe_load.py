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
  ``numpy._core.multiarray.scalar`` for numpy scalars (``eta``, metrics).
  Object arrays stay refused (their dtype class is not listed);
- ``builtins.getattr``, but only as :func:`_history_buffer_statistic`: a
  HistoryBuffer pickles its statistics methods as ``getattr(HistoryBuffer,
  'mean')``; any other ``getattr`` in a checkpoint is refused.

``collections.OrderedDict``, tensors and plain Python containers are allowed
by torch already. Importing :mod:`cn_seg` applies the registration once.
"""
import pickle
from typing import Callable, List, Tuple, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

# numpy 1.x pickles its helpers under ``numpy.core``, numpy 2.x under
# ``numpy._core``: both names refer to the same functions.
_NUMPY_CORE_NAMES = ('numpy.core', 'numpy._core')

# Numeric dtypes only: an object dtype would reach arbitrary pickled objects.
_NUMERIC_DTYPES = (np.bool_, np.int8, np.int16, np.int32, np.int64,
                   np.uint8, np.uint16, np.uint32, np.uint64, np.float16,
                   np.float32, np.float64)

# The methods ``HistoryBuffer._set_default_statistics`` registers.
_HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


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
    safe = [HistoryBuffer, np.ndarray, np.dtype,
            (_history_buffer_statistic, 'builtins.getattr')]
    safe += [type(np.dtype(t)) for t in _NUMERIC_DTYPES]
    for core in _NUMPY_CORE_NAMES:
        safe.append((np._core.multiarray._reconstruct,
                     f'{core}.multiarray._reconstruct'))
        safe.append((np._core.multiarray.scalar, f'{core}.multiarray.scalar'))
    return safe


def register_checkpoint_safe_globals() -> None:
    """Allow-list :func:`checkpoint_safe_globals` for ``weights_only`` loads.

    Calling it again is harmless (torch keeps a set).
    """
    torch.serialization.add_safe_globals(checkpoint_safe_globals())
