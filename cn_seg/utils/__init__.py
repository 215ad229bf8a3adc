"""Utilities: safe checkpoint loading, deployment configs, run summaries."""
from .safe_load import (checkpoint_safe_globals,
                        register_checkpoint_safe_globals)
from .deploy_config import deploy_config
from .fold_checkpoint import fold_checkpoint

register_checkpoint_safe_globals()

__all__ = [
    'checkpoint_safe_globals', 'register_checkpoint_safe_globals',
    'deploy_config', 'fold_checkpoint'
]
