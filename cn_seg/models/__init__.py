"""Models: the CN norm layer, domain routing, conversion, calibration and
test-time adaptation of banks, folding.

Torch only: nothing here imports an OpenMMLab package.
"""
from .adapt import BankAdaptation, adapt_bank
from .calibrate import calibrate_bank
from .convert import convert_cn
from .fold import fold_cn
from .norms import (AffineConsistentNorm, BatchConsistentNorm, ConsistentNorm,
                    SharedStateConsistentNorm)
from .routing import (DomainRoute, DomainRouted, disable_domain_routing,
                      domain_routing, enable_domain_routing)

__all__ = [
    'ConsistentNorm', 'BatchConsistentNorm', 'AffineConsistentNorm',
    'SharedStateConsistentNorm', 'DomainRoute', 'DomainRouted',
    'domain_routing', 'enable_domain_routing', 'disable_domain_routing',
    'fold_cn', 'convert_cn', 'calibrate_bank', 'adapt_bank', 'BankAdaptation'
]
