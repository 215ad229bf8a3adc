"""Backends of CN's training-mode per-domain batch norm.

One interface (:class:`DomainBatchNormBackend`, taking the batch's
:class:`~cn_seg.models.routing.DomainRoute` and the layer's
:class:`BankState`), three implementations (the C++ CPU kernels, Triton,
ATen's kernels per domain slice), chosen in one place
(:func:`select_backend`, ``CN_SEG_BACKEND`` or a layer's ``backend=``),
run locally or synchronized across processes by :func:`domain_batch_norm`;
under ``torch.compile``, :func:`compiled_domain_batch_norm` (ATen ops that
inductor fuses).
"""
from .bank_state import BankState
from .base import DomainBatchNormBackend
from .compiled import compiled_domain_batch_norm
from .function import domain_batch_norm
from .selection import (BACKENDS, ENV, backend_choice, select_backend,
                        why_unavailable)
from .sync import sync_world

__all__ = [
    'BankState', 'DomainBatchNormBackend', 'domain_batch_norm', 'BACKENDS',
    'ENV', 'backend_choice', 'select_backend', 'sync_world', 'why_unavailable',
    'compiled_domain_batch_norm'
]
