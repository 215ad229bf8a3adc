"""``CN``, ``ConsistentNorm`` and the Table 6 ablation
``SharedStateConsistentNorm`` in mmengine's root ``MODELS`` registry.

mmcv's ``build_norm_layer`` looks a ``norm_cfg`` type up there, so a config
sets ``norm_cfg=dict(type='CN', num_domains=2)`` wherever it sets
``dict(type='BN')``; :class:`cn_seg.ConsistentNorm` builds the variant for
the wrapped norm and is named ``bn`` (its ``_abbr_``), so checkpoint keys
stay those of the plain model.
"""
from mmengine.registry import MODELS

from cn_seg.models.norms import ConsistentNorm, SharedStateConsistentNorm

MODELS.register_module('CN', module=ConsistentNorm)
MODELS.register_module('ConsistentNorm', module=ConsistentNorm)
MODELS.register_module(
    'SharedStateConsistentNorm', module=SharedStateConsistentNorm)
