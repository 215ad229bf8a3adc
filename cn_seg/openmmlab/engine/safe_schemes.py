"""Load checkpoints from every mmengine source with ``weights_only=True``.

mmengine's :class:`~mmengine.runner.CheckpointLoader` reads a checkpoint
through the loader registered for its prefix: local files, ``http(s)://``,
``open-mmlab://`` / ``openmmlab://`` / ``torchvision://`` / ``mmcls://``
(model-zoo names resolved to URLs), ``pavi://``, ``s3://`` / ``petrel://``.
The URL loaders end in ``torch.hub.load_state_dict_from_url``, whose
``weights_only`` defaults to False: a checkpoint served over HTTP, or named
by ``model.pretrained='open-mmlab://...'``, could run code when unpickled.
:func:`guard_checkpoint_schemes` re-registers every loader wrapped in
:func:`weights_only_loader`, which sets ``TORCH_FORCE_WEIGHTS_ONLY_LOAD``
while the loader runs: torch >= 2.6 then loads with ``weights_only=True``
and the allow-list of :mod:`cn_seg.openmmlab.engine.safe_load`, even where
the caller passes ``weights_only=False``. Importing :mod:`cn_seg` applies
it; a scheme registered after that import is not wrapped.
"""
import contextlib
import functools
import os
import pickle
from typing import Callable, Iterator

from mmengine.runner.checkpoint import CheckpointLoader

_FORCE = 'TORCH_FORCE_WEIGHTS_ONLY_LOAD'
_FORCE_NO = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'
_TRUE = ('1', 'y', 'yes', 'true')
# Marks a loader that is already wrapped, so that wrapping is idempotent.
_GUARDED = '_cn_seg_weights_only'


@contextlib.contextmanager
def weights_only_loads() -> Iterator[None]:
    """Make every ``torch.load`` in the block use ``weights_only=True``.

    Raises:
        RuntimeError: If ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` is set, which
            asks torch for the opposite.
    """
    if os.environ.get(_FORCE_NO, '0').lower() in _TRUE:
        raise RuntimeError(
            f'{_FORCE_NO} is set, but cn_seg loads checkpoints with '
            'weights_only=True only (a checkpoint must not run code when it '
            f'is loaded). Unset {_FORCE_NO}.')
    previous = os.environ.get(_FORCE)
    os.environ[_FORCE] = '1'
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(_FORCE, None)
        else:
            os.environ[_FORCE] = previous


def _refusal(filename: str, error: Exception) -> str:
    return (
        f'Refused to load the checkpoint {filename}: it holds objects other '
        'than tensors, plain Python containers and the mmengine types cn_seg '
        'allows, and unpickling them could run code from the file (cn_seg '
        'loads checkpoints from every source, local files and URLs alike, '
        'with torch.load(weights_only=True)). Use a checkpoint written by '
        'mmengine or a torch.save of a state_dict. If you trust its source, '
        're-save its state_dict in a separate Python process '
        "(torch.load(path, weights_only=False)['state_dict']). "
        f'torch said: {error}')


def weights_only_loader(loader: Callable) -> Callable:
    """Wrap a CheckpointLoader scheme so that it loads ``weights_only``.

    Args:
        loader (Callable): A loader ``(filename, map_location, ...)``.

    Returns:
        Callable: The wrapped loader (``loader`` itself if already wrapped).
        It raises :class:`pickle.UnpicklingError` naming the file and what
        to do when the checkpoint holds objects that are not allowed.
    """
    if getattr(loader, _GUARDED, False):
        return loader

    @functools.wraps(loader)  # keeps __name__: mmengine logs the scheme by it
    def load(filename, *args, **kwargs):
        with weights_only_loads():
            try:
                return loader(filename, *args, **kwargs)
            except pickle.UnpicklingError as error:
                raise pickle.UnpicklingError(_refusal(filename,
                                                      error)) from error

    setattr(load, _GUARDED, True)
    return load


def is_weights_only_loader(loader: Callable) -> bool:
    """Whether ``loader`` was wrapped by :func:`weights_only_loader`."""
    return getattr(loader, _GUARDED, False)


def guard_checkpoint_schemes() -> None:
    """Re-register every CheckpointLoader scheme as a weights-only loader.

    Calling it again is harmless.
    """
    # mmengine has no public listing of its schemes; register_scheme with
    # force=True is its documented way to replace one.
    for prefix, loader in list(CheckpointLoader._schemes.items()):
        CheckpointLoader.register_scheme(
            prefix, weights_only_loader(loader), force=True)
