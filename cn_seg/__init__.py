"""cn_seg: Consistent Normalization for MMSegmentation 1.x.

Importing the package registers its modules (the ``CN`` norm layer, datasets,
samplers, metrics, transforms and hooks) in the OpenMMLab registries, which is
what ``custom_imports = dict(imports=['cn_seg'])`` in a config relies on.
"""
from . import datasets, deploy, engine, evaluation, models  # noqa: F401
from .models import (ConsistentNorm, adapt_bank, calibrate_bank, convert_cn,
                     domain_routing, enable_domain_routing, fold_cn)
from .version import __version__

__all__ = [
    'ConsistentNorm', 'domain_routing', 'enable_domain_routing', 'fold_cn',
    'convert_cn', 'calibrate_bank', 'adapt_bank', '__version__'
]
