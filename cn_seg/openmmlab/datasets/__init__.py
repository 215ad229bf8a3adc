"""Datasets, dataset wrappers and samplers for multi-domain segmentation.

Importing this package registers ``GTA5Dataset``, ``SynthiaDataset`` and
``MultiDomainDataset`` (mmseg ``DATASETS``) and the domain-balanced samplers
(mmengine ``DATA_SAMPLERS``), and the transforms for transform-defined
domains (``transforms``). The converters (``converters``) are plain modules
behind ``tools/dataset_converters/``.
"""
from . import transforms  # noqa: F401  (registers TransformDomains etc.)
from .gta5 import GTA5Dataset
from .multi_domain_dataset import MultiDomainDataset
from .samplers import DomainBalancedBatchSampler, DomainBalancedSampler
from .synthia import SynthiaDataset

__all__ = [
    'GTA5Dataset', 'SynthiaDataset', 'MultiDomainDataset',
    'DomainBalancedSampler', 'DomainBalancedBatchSampler'
]
