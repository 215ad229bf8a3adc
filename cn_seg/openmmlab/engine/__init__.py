"""Engine: the Runner's set-up for cn_seg runs, safe checkpoint loading, hooks.

Importing it checks that torch can load checkpoints safely, allow-lists the
types of mmengine checkpoints for ``torch.load(weights_only=True)`` (see
:mod:`cn_seg.openmmlab.engine.safe_load`) and makes every mmengine
checkpoint source, URLs included, load that way
(:mod:`cn_seg.openmmlab.engine.safe_schemes`).
"""
from .safe_load import (check_torch_version, checkpoint_safe_globals,
                        register_checkpoint_safe_globals)

check_torch_version()

from .hooks import (AtomicCheckpointHook, DomainRoutingHook,  # noqa: E402
                    NormStateCheckHook, RandomStateHook,
                    TestTimeBankHook)
from .load_model import (build_model_to_load,  # noqa: E402
                         load_checked_checkpoint)
from .norm_state import check_norm_state, checkpoint_state_dict  # noqa: E402
from .safe_schemes import guard_checkpoint_schemes  # noqa: E402

register_checkpoint_safe_globals()
guard_checkpoint_schemes()

__all__ = [
    'AtomicCheckpointHook', 'DomainRoutingHook', 'NormStateCheckHook',
    'RandomStateHook', 'TestTimeBankHook', 'check_norm_state',
    'checkpoint_state_dict',
    'build_model_to_load', 'load_checked_checkpoint',
    'checkpoint_safe_globals', 'check_torch_version',
    'guard_checkpoint_schemes', 'register_checkpoint_safe_globals'
]
