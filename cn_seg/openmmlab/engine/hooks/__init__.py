"""Runner hooks."""
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .domain_routing_hook import DomainRoutingHook
from .norm_state_check_hook import NormStateCheckHook
from .random_state_hook import RandomStateHook
from .safe_loading_hook import SafeLoadingHook
from .test_time_bank_hook import TestTimeBankHook

__all__ = [
    'AtomicCheckpointHook', 'DomainRoutingHook', 'NormStateCheckHook',
    'RandomStateHook', 'SafeLoadingHook', 'TestTimeBankHook'
]
