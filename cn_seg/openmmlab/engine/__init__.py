"""Engine: the Runner's set-up for cn_seg runs, safe checkpoint loading, hooks.

Importing it registers the hooks and changes nothing else in the process.
Safe checkpoint loading is the explicit call :func:`install_safe_loading`
(see :mod:`cn_seg.openmmlab.engine.safe_schemes`), made by the tools, by
``SafeLoadingHook`` and before each checkpoint cn_seg loads itself.
"""
from .hooks import (AtomicCheckpointHook, DomainRoutingHook,
                    NormStateCheckHook, RandomStateHook, SafeLoadingHook,
                    TestTimeBankHook)
from .load_model import build_model_to_load, load_checked_checkpoint
from .norm_state import check_norm_state, checkpoint_state_dict
from .safe_load import (check_torch_version, checkpoint_safe_globals,
                        register_checkpoint_safe_globals)
from .safe_schemes import install_safe_loading

__all__ = [
    'AtomicCheckpointHook', 'DomainRoutingHook', 'NormStateCheckHook',
    'RandomStateHook', 'SafeLoadingHook', 'TestTimeBankHook',
    'check_norm_state', 'checkpoint_state_dict', 'build_model_to_load',
    'load_checked_checkpoint', 'checkpoint_safe_globals',
    'check_torch_version', 'install_safe_loading',
    'register_checkpoint_safe_globals'
]
