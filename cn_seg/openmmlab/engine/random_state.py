"""The process's random number generators, as a checkpoint can hold them."""
import random
from typing import Dict, Sequence, Tuple

import numpy as np
import torch

#: The generators :func:`get_random_state` captures, by name.
GENERATORS = ('python', 'numpy', 'torch', 'cuda')


def get_random_state() -> Dict[str, object]:
    """The states of python's ``random``, numpy's and torch's generators.

    Returns:
        dict: ``python`` and ``numpy`` (their ``getstate``), ``torch`` (the
        CPU generator) and, once CUDA is in use, ``cuda`` (the current
        device's generator). Everything in it loads with
        ``torch.load(weights_only=True)``.
    """
    state = dict(
        python=random.getstate(),
        numpy=np.random.get_state(),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state()
    return state


def set_random_state(
        state: Dict[str, object],
        generators: Sequence[str] = GENERATORS) -> Tuple[str, ...]:
    """Restore the ``generators`` that ``state`` holds.

    Args:
        state (dict): A :func:`get_random_state` result.
        generators (Sequence[str]): Which of :data:`GENERATORS` to restore.

    Returns:
        tuple[str]: The generators restored (``cuda`` only where CUDA is
        available).
    """
    done = []
    for name in generators:
        if name not in state:
            continue
        value = state[name]
        if name == 'python':
            random.setstate(_as_tuples(value))
        elif name == 'numpy':
            np.random.set_state(value)
        elif name == 'torch':
            torch.set_rng_state(value)
        elif name == 'cuda':
            if not torch.cuda.is_available():
                continue
            torch.cuda.set_rng_state(value)
        done.append(name)
    return tuple(done)


def _as_tuples(value):
    """``random.setstate`` needs tuples where a round trip may give lists."""
    if isinstance(value, (list, tuple)):
        return tuple(_as_tuples(v) for v in value)
    return value
