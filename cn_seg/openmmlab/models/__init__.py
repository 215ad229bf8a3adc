"""Models in the OpenMMLab registries: the ``CN`` norm layer (mmengine's
``MODELS``, :mod:`.norms`) and the per-domain loss (mmseg's ``MODELS``)."""
from . import norms  # noqa: F401  (registers CN and ConsistentNorm)
from .losses import DomainWeightedLoss

__all__ = ['DomainWeightedLoss']
