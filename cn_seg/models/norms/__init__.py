"""Norm layers: Consistent Normalization and its per-domain kernels."""
from .affine_consistent_norm import AffineConsistentNorm
from .batch_consistent_norm import BatchConsistentNorm
from .consistent_norm import ConsistentNorm
from .shared_state_consistent_norm import SharedStateConsistentNorm

__all__ = [
    'ConsistentNorm', 'BatchConsistentNorm', 'AffineConsistentNorm',
    'SharedStateConsistentNorm'
]
