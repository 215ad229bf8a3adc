"""Runner hooks."""
from .domain_routing_hook import DomainRoutingHook

__all__ = ['DomainRoutingHook']
