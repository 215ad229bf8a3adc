"""Safe checkpoint loading: an explicit call, for every checkpoint source.

mmengine's :class:`~mmengine.runner.CheckpointLoader` reads a checkpoint
through the loader registered for its prefix: local files, ``http(s)://``,
``open-mmlab://`` and the other model-zoo names, ``pavi://``, ``s3://``, and
any scheme a plugin registers (a config's ``custom_imports`` can import one).
The URL loaders end in ``torch.hub.load_state_dict_from_url``, which passes
``weights_only=False``: a checkpoint served over HTTP, or named by
``model.pretrained``, could run code when unpickled.

:func:`install_safe_loading` is the policy; the tools, ``SafeLoadingHook``
(``before_run``, in cn_seg's configs) and cn_seg's own loading path call it.
``import cn_seg`` does not. It

- sets ``TORCH_FORCE_WEIGHTS_ONLY_LOAD=1`` in the process, once. It is the
  only torch switch that overrides an explicit ``weights_only=False`` from
  code cn_seg does not own (torch.hub, a plugin's loader): every
  ``torch.load`` then unpickles tensors, containers and allow-listed types
  only. Set once and never unset, every thread reads the same value (a
  per-load flip would let another thread's load run unguarded);
- allow-lists the types mmengine's checkpoints hold
  (:mod:`cn_seg.openmmlab.engine.safe_load`);
- wraps every registered scheme in :func:`weights_only_loader`: a refusal
  names the file and the fix, and a load refuses to run if the policy was
  undone in between. Schemes registered later are wrapped at the next call,
  which cn_seg makes before each load it starts.
"""
import functools
import os
import pickle
import threading
from typing import Callable

from mmengine.runner.checkpoint import CheckpointLoader

from .safe_load import check_torch_version, register_checkpoint_safe_globals

_FORCE = 'TORCH_FORCE_WEIGHTS_ONLY_LOAD'
_FORCE_NO = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'
_TRUE = ('1', 'y', 'yes', 'true')
# Marks a loader that is already wrapped, so that wrapping is idempotent.
_GUARDED = '_cn_seg_weights_only'
_LOCK = threading.Lock()


def _check_policy() -> None:
    """Raise unless torch is set to load every checkpoint weights-only."""
    if os.environ.get(_FORCE_NO, '0').lower() in _TRUE:
        raise RuntimeError(
            f'{_FORCE_NO} is set, but cn_seg loads checkpoints with '
            'weights_only=True only (a checkpoint must not run code when it '
            f'is loaded). Unset {_FORCE_NO}.')
    if os.environ.get(_FORCE, '0').lower() not in _TRUE:
        raise RuntimeError(
            f'{_FORCE} is not set, so a checkpoint loader that passes '
            'weights_only=False (torch.hub, used for URLs) could run code '
            'from the file. cn_seg.openmmlab.engine.install_safe_loading() '
            'sets it; something unset it afterwards. Call '
            'install_safe_loading() again, and do not change it while '
            'checkpoints load.')


def _refusal(filename: str, error: Exception) -> str:
    return (
        f'Refused to load the checkpoint {filename}: it holds objects other '
        'than tensors, plain Python containers and the mmengine types cn_seg '
        'allows, and unpickling them could run code from the file (cn_seg '
        'loads checkpoints from every source, local files, URLs and plugin '
        'schemes alike, with torch.load(weights_only=True)). Use a checkpoint '
        'written by mmengine or a torch.save of a state_dict. If you trust '
        'its source, re-save its state_dict in a separate Python process '
        "(torch.load(path, weights_only=False)['state_dict']). "
        f'torch said: {error}')


def weights_only_loader(loader: Callable) -> Callable:
    """Wrap a CheckpointLoader scheme: refusals name the file and the fix.

    The wrapped loader checks that the policy of
    :func:`install_safe_loading` is in force before it runs ``loader``.

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
        _check_policy()
        try:
            return loader(filename, *args, **kwargs)
        except pickle.UnpicklingError as error:
            raise pickle.UnpicklingError(_refusal(filename, error)) from error

    setattr(load, _GUARDED, True)
    return load


def is_weights_only_loader(loader: Callable) -> bool:
    """Whether ``loader`` was wrapped by :func:`weights_only_loader`."""
    return getattr(loader, _GUARDED, False)


def install_safe_loading() -> None:
    """Make every checkpoint this process loads unpickle weights only.

    Idempotent and thread-safe; call it before loading checkpoints and again
    after code that may register new CheckpointLoader schemes (the tools,
    ``SafeLoadingHook`` and
    :func:`cn_seg.openmmlab.engine.load_checked_checkpoint` do).

    Raises:
        ImportError: If torch is older than 2.6.
        RuntimeError: If ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` is set.
    """
    check_torch_version()
    with _LOCK:
        if os.environ.get(_FORCE_NO, '0').lower() in _TRUE:
            _check_policy()  # raises with the fix
        if os.environ.get(_FORCE, '0').lower() not in _TRUE:
            os.environ[_FORCE] = '1'
        register_checkpoint_safe_globals()
        # mmengine has no public listing of its schemes; register_scheme
        # with force=True is its documented way to replace one.
        for prefix, loader in list(CheckpointLoader._schemes.items()):
            if not is_weights_only_loader(loader):
                CheckpointLoader.register_scheme(
                    prefix, weights_only_loader(loader), force=True)
