"""Norm layers: Consistent Normalization and its per-domain kernels."""
from .consistent_norm import ConsistentNorm
from .domain_route import DomainRoute

__all__ = ['ConsistentNorm', 'DomainRoute']
