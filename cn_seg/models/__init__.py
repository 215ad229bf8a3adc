"""Models: the CN norm layer, domain routing and folding."""
from .fold import fold_cn
from .losses import DomainWeightedLoss, split_domain_losses
from .norms import ConsistentNorm, DomainRoute
from .routing import disable_domain_routing, domain_routing, \
    enable_domain_routing

__all__ = [
    'ConsistentNorm', 'DomainRoute', 'domain_routing', 'enable_domain_routing',
    'disable_domain_routing', 'fold_cn', 'DomainWeightedLoss',
    'split_domain_losses'
]
