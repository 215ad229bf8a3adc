"""Engine: Runner hooks."""
from .hooks import DomainRoutingHook

__all__ = ['DomainRoutingHook']
