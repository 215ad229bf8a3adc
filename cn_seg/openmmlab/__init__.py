"""The OpenMMLab integration of cn_seg.

Importing it registers cn_seg's classes in the OpenMMLab registries: the
``CN`` / ``ConsistentNorm`` norm layer and ``DomainWeightedLoss`` (mmseg
``MODELS``), the datasets, transforms, samplers, metric and hooks. It also
holds what cn_seg's tools build on (:mod:`.engine`, :mod:`.deploy`).
``import cn_seg`` imports it when mmseg is installed.
"""
from . import datasets, deploy, engine, evaluation, models  # noqa: F401
