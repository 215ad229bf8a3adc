"""Say which collective timed out, and how to raise the timeout.

When one process of a distributed run stops (killed, hung, out of memory),
the others wait in their next collective until ``env_cfg.dist_cfg.timeout``
(seconds; torch's default is 30 minutes) and then fail with the backend's
error ("Timed out waiting 5000ms for recv operation to complete"), which
names neither the collective nor the setting.
:func:`explain_collective_timeout` turns it into an error that does.
"""
import contextlib
import os.path as osp
import re
import traceback
from typing import Iterator, Optional

import torch.distributed as dist
from mmengine.config import Config

from .run_config import dist_timeout

_TIMEOUT = re.compile(r'timed? ?out|timeout', re.IGNORECASE)
_DISTRIBUTED = osp.join('torch', 'distributed', '')
_AUTOGRAD = osp.join('torch', 'autograd', '')


class CollectiveTimeoutError(RuntimeError):
    """A collective waited longer than the process group's timeout."""


def _where(error: BaseException) -> str:
    """The collective that raised ``error`` and the code that called it."""
    frames = traceback.extract_tb(error.__traceback__)
    inside = [i for i, f in enumerate(frames) if _DISTRIBUTED in f.filename]
    if inside:
        collective = frames[inside[-1]].name
        if inside[0] > 0:
            caller = frames[inside[0] - 1]
            return (f'The collective {collective} (called at '
                    f'{caller.filename}:{caller.lineno}, in {caller.name})')
        return f'The collective {collective}'
    if any(_AUTOGRAD in f.filename for f in frames):
        return ("DistributedDataParallel's gradient all_reduce (in the "
                'backward pass)')
    return 'A collective'


def _message(error: BaseException, timeout: Optional[float]) -> str:
    limit = ("torch's default of 1800 s (the config sets no "
             'env_cfg.dist_cfg.timeout)' if timeout is None else
             f'{timeout:g} s (env_cfg.dist_cfg.timeout)')
    return (
        f'{_where(error)} waited longer than {limit} for another process: a '
        'rank stopped, crashed or hangs (its own log says why). If the '
        'processes are only slow (a long validation, checkpoint write or '
        'data loading on one rank), raise the timeout: --cfg-options '
        'env_cfg.dist_cfg.timeout=SECONDS, or in the config. The backend '
        f'said: {error}')


@contextlib.contextmanager
def explain_collective_timeout(cfg: Config) -> Iterator[None]:
    """Re-raise a collective's timeout as a :class:`CollectiveTimeoutError`.

    Args:
        cfg (Config): The run config (``env_cfg.dist_cfg.timeout``).

    Raises:
        CollectiveTimeoutError: Naming the collective, where it was called,
            the timeout and how to raise it; other errors pass unchanged.
    """
    timeout = dist_timeout(cfg)
    try:
        yield
    except RuntimeError as error:  # gloo and NCCL raise DistBackendError
        if not _is_collective_timeout(error):
            raise
        raise CollectiveTimeoutError(
            _message(error, timeout and timeout.total_seconds())) from error


def _is_collective_timeout(error: RuntimeError) -> bool:
    """A backend's timeout, not another one (e.g. a DataLoader's)."""
    if isinstance(error, CollectiveTimeoutError) or \
            not _TIMEOUT.search(str(error)):
        return False
    backend_error = getattr(dist, 'DistBackendError', ())
    return isinstance(error, backend_error) or any(
        _DISTRIBUTED in f.filename
        for f in traceback.extract_tb(error.__traceback__))
