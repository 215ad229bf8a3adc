"""Domain routing: the path of ``domain_idx`` from a batch to every CN layer.

``data_sample.metainfo['domain_idx']`` (or a list given in code) becomes one
:class:`DomainRoute` per batch (validated and grouped once); routing hands it
to every :class:`DomainRouted` module of the model for the forward pass.
"""
from .domain_route import DomainRoute, RouteTensors, Segment, uniform_route
from .loss_parts import LossParts, ReportsLossParts
from .routed import DomainRouted
from .routing import (disable_domain_routing, domain_routing,
                      enable_domain_routing, install_route, restore_route)

__all__ = [
    'DomainRoute', 'RouteTensors', 'Segment', 'uniform_route', 'LossParts',
    'ReportsLossParts', 'DomainRouted', 'domain_routing',
    'enable_domain_routing', 'disable_domain_routing', 'install_route',
    'restore_route'
]
