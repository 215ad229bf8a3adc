"""Pipeline transforms for transform-defined domains (Algorithm 1 of CN).

Importing this package registers ``TransformDomains``, ``SetDomain`` and
``GaussianBlur`` in mmseg's ``TRANSFORMS`` and ``multi_view_collate`` in
mmengine's ``FUNCTIONS`` (the dataloader's ``collate_fn``).
"""
from .gaussian_blur import GaussianBlur
from .multi_view_collate import multi_view_collate
from .set_domain import SetDomain
from .transform_domains import TransformDomains

__all__ = [
    'TransformDomains', 'SetDomain', 'GaussianBlur', 'multi_view_collate'
]
