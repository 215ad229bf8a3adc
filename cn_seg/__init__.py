"""cn_seg: Consistent Normalization, per-domain normalization banks.

The core (the CN layers, :func:`convert_cn`, :func:`domain_routing`,
:func:`calibrate_bank`, :func:`adapt_bank`, :func:`fold_cn` and their
kernels) needs only torch.
When MMSegmentation is installed, importing the package also registers the
OpenMMLab integration (:mod:`cn_seg.openmmlab`: the ``CN`` norm layer,
datasets, samplers, transforms, metric and hooks) in the OpenMMLab
registries, which is what ``custom_imports = dict(imports=['cn_seg'])`` in a
config relies on. Importing registers classes and changes nothing else.
"""
from .models import (AffineConsistentNorm, BatchConsistentNorm, ConsistentNorm,
                     adapt_bank, calibrate_bank, convert_cn,
                     disable_domain_routing, domain_routing,
                     enable_domain_routing, fold_cn)
from .openmmlab_import import import_openmmlab
from .version import __version__

#: The OpenMMLab integration, or None where mmseg is not installed.
openmmlab = import_openmmlab()

__all__ = [
    'ConsistentNorm', 'BatchConsistentNorm', 'AffineConsistentNorm',
    'domain_routing', 'enable_domain_routing', 'disable_domain_routing',
    'fold_cn', 'convert_cn', 'calibrate_bank', 'adapt_bank', '__version__'
]
