"""Data samplers for multi-domain training."""
from .domain_balanced_batch_sampler import DomainBalancedBatchSampler
from .domain_balanced_sampler import DomainBalancedSampler

__all__ = ['DomainBalancedSampler', 'DomainBalancedBatchSampler']
