"""Engine: the Runner's set-up for cn_seg runs, safe checkpoint loading, hooks.

Importing it allow-lists the types of mmengine checkpoints for
``torch.load(weights_only=True)`` (see :mod:`cn_seg.engine.safe_load`).
"""
from .hooks import DomainRoutingHook
from .safe_load import (checkpoint_safe_globals,
                        register_checkpoint_safe_globals)

register_checkpoint_safe_globals()

__all__ = [
    'DomainRoutingHook', 'checkpoint_safe_globals',
    'register_checkpoint_safe_globals'
]
