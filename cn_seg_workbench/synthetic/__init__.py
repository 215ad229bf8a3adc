"""Synthetic street-scene domains in the Cityscapes and GTA5 layouts."""
from .domains import make_synthetic_domains
from .prepare import prepare_synthetic_domains

__all__ = ['make_synthetic_domains', 'prepare_synthetic_domains']
