"""Backends of CN's training-mode per-domain batch norm.

One interface (:class:`DomainBatchNormBackend`, taking the batch's
:class:`~cn_seg.models.routing.DomainRoute` and the layer's
:class:`BankState`), three implementations (the C++ CPU kernels, Triton,
ATen's kernels per domain slice), chosen in one place
(:func:`select_backend`, ``CN_SEG_BACKEND``), run locally or synchronized
across processes by :func:`domain_batch_norm`.
"""
from .bank_state import BankState
from .base import DomainBatchNormBackend
from .function import domain_batch_norm
from .selection import BACKENDS, ENV, select_backend, why_unavailable
from .sync import sync_world

__all__ = [
    'BankState', 'DomainBatchNormBackend', 'domain_batch_norm', 'BACKENDS',
    'ENV', 'select_backend', 'sync_world', 'why_unavailable'
]
