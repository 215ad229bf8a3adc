"""One dataset over several domains, each sample tagged with its domain."""
import os.path as osp
from typing import List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset, ConcatDataset
from mmseg.registry import DATASETS

from cn_seg.structures import default_domain_name
from .domain_tags import tag_domain

#: Attributes that must agree between domains, with the config key to change.
_CHECKED_ATTRIBUTES = (('classes', 'metainfo.classes'), ('palette',
                                                         'metainfo.palette'),
                       ('ignore_index', 'ignore_index'), ('reduce_zero_label',
                                                          'reduce_zero_label'),
                       ('label_map', 'metainfo.classes'))


def _attribute(dataset: BaseDataset, key: str):
    """A dataset's value of a checked key (metainfo first, then attribute)."""
    if key in dataset.metainfo:
        return dataset.metainfo[key]
    return getattr(dataset, key, None)


class EmptyDatasetError(ValueError):
    """A dataset found no sample; the message names its list or folder."""


def empty_dataset_error(dataset: BaseDataset,
                        domain: Optional[str] = None) -> EmptyDatasetError:
    """Say which list or folder gave ``dataset`` no sample, and what to do.

    Without it mmengine fails later, serializing the empty data list, with
    numpy's ``need at least one array to concatenate``.

    Args:
        dataset (BaseDataset): The dataset whose data list is empty.
        domain (str, optional): Its domain in a :class:`MultiDomainDataset`.
    """
    ann_file = getattr(dataset, 'ann_file', '')
    img_dir = getattr(dataset, 'data_prefix', {}).get('img_path', '')
    if ann_file and osp.isfile(ann_file):
        where = (f'its ann_file {ann_file} lists no sample. Prepare the data '
                 'with tools/dataset_converters/ (faulty_pairs.txt next to '
                 'the list says why pairs were left out) or set `ann_file`')
    else:
        suffix = getattr(dataset, 'img_suffix', '')
        where = (f"its img_path folder {img_dir} holds no '*{suffix}' "
                 'file. Check `data_root`, `data_prefix.img_path` and '
                 '`img_suffix`, or set `ann_file` to a file list')
    name = type(dataset).__name__
    if domain is not None:
        name = f"MultiDomainDataset: domain '{domain}' ({name})"
    return EmptyDatasetError(f'{name} has no sample: {where}.')


def _init_domain(dataset: BaseDataset, domain: str) -> None:
    """``dataset.full_init()``, naming the domain if it has no sample."""
    try:
        dataset.full_init()
    except ValueError as error:
        # mmengine serializes the data list with np.concatenate, which
        # fails on an empty one; any other error is the dataset's own.
        empty = isinstance(error, EmptyDatasetError) or (getattr(
            dataset, 'data_list', None) == [] and 'concatenate' in str(error))
        if not empty:
            raise
        raise empty_dataset_error(dataset, domain) from error
    if len(dataset) == 0:  # serialize_data=False: no error, no sample
        raise empty_dataset_error(dataset, domain)


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


@DATASETS.register_module()
class MultiDomainDataset(ConcatDataset):
    """Concatenate datasets of several domains and tag every sample.

    Each wrapped dataset keeps its own pipeline (e.g. GTA5 frames of
    1914x1052 and Cityscapes frames of 2048x1024 resize and crop their own way
    to a common crop). Sample ``i`` of the ``k``-th dataset gets
    ``domain_idx`` (``k``, or ``domain_indices[k]``) and ``domain_name``
    (``domain_names[k]``) in the metainfo of its packed data sample, where
    :class:`cn_seg.models.ConsistentNorm` routing and
    :class:`cn_seg.openmmlab.evaluation.MultiDomainIoUMetric` read them. The
    tags are
    set after the pipeline, so ``PackSegInputs`` needs no extra ``meta_keys``
    (transforms inside the pipeline do not see them). A pipeline that does
    not pack gets the tags as keys of its result dict; a sample that is a
    list of views keeps the tags its pipeline gave each view.

    The metainfo is that of the first dataset; datasets whose classes,
    palette, ignore index or zero-label reduction differ are refused.

    Args:
        datasets (Sequence[dict | BaseDataset]): One dataset (or config) per
            domain, in domain order.
        domain_names (Sequence[str], optional): A name per dataset, used as
            the metric prefix (``cityscapes/mIoU``). Default: None, the class
            names without ``Dataset`` in lower case.
        domain_indices (Sequence[int], optional): The CN bank each dataset's
            samples use, e.g. ``[1]`` to evaluate GTA5 val (the only dataset)
            with the GTA5 bank of a model trained on ``[cityscapes, gta5]``.
            Default: None, the position of the dataset in ``datasets``.
        lazy_init (bool): Build the wrapped datasets' data lists only when
            first needed. Default: False.
    """

    def __init__(self,
                 datasets: Sequence[Union[dict, BaseDataset]],
                 domain_names: Optional[Sequence[str]] = None,
                 domain_indices: Optional[Sequence[int]] = None,
                 lazy_init: bool = False) -> None:
        if len(datasets) == 0:
            raise ValueError('MultiDomainDataset: `datasets` is empty; give '
                             'one dataset config per domain.')
        # Built without their data lists: ``full_init`` loads them and names
        # a domain that has no sample.
        built: List[BaseDataset] = [
            DATASETS.build({
                **d, 'lazy_init': True
            }) if isinstance(d, dict) else d for d in datasets
        ]
        self.domain_names = self._check_names(built, domain_names)
        self.domain_indices = self._check_indices(built, domain_indices)
        self._check_compatible(built)
        super().__init__(
            built,
            lazy_init=lazy_init,
            ignore_keys=[key for key, _ in _CHECKED_ATTRIBUTES])

    @staticmethod
    def _check_names(datasets, names) -> List[str]:
        if names is None:
            names = [default_domain_name(d) for d in datasets]
        names = [str(n) for n in names]
        if len(names) != len(datasets):
            raise ValueError(
                f'MultiDomainDataset: {len(names)} domain_names {names} for '
                f'{len(datasets)} datasets; give one name per dataset.')
        if len(set(names)) != len(names):
            raise ValueError(
                f'MultiDomainDataset: domain_names {names} are not unique; '
                'set `domain_names` to one distinct name per dataset.')
        return names

    @staticmethod
    def _check_indices(datasets, indices) -> List[int]:
        if indices is None:
            return list(range(len(datasets)))
        if len(indices) != len(datasets) or not all(
                isinstance(i, int) and i >= 0 for i in indices):
            raise ValueError(
                f'MultiDomainDataset: domain_indices={list(indices)} must be '
                f'{len(datasets)} non-negative ints (the CN bank of each '
                'dataset).')
        return list(indices)

    def _check_compatible(self, datasets) -> None:
        first = datasets[0]
        for k, dataset in enumerate(datasets[1:], 1):
            for key, config_key in _CHECKED_ATTRIBUTES:
                a, b = _attribute(first, key), _attribute(dataset, key)
                if not _same(a, b):
                    raise ValueError(
                        f'MultiDomainDataset: {key} of domain '
                        f"'{self.domain_names[k]}' "
                        f'({type(dataset).__name__}) differs from domain '
                        f"'{self.domain_names[0]}' ({type(first).__name__}): "
                        f'{b!r} != {a!r}. All domains must share one label '
                        f'space; set `{config_key}` of the datasets alike.')

    @property
    def metainfo(self) -> dict:
        """The first dataset's metainfo, with the ``domain_names`` (which the
        metric checks its arguments against before evaluating)."""
        return dict(super().metainfo, domain_names=list(self.domain_names))

    def full_init(self) -> None:
        """Load every domain's data list, refusing a domain without sample.
        """
        if self._fully_initialized:
            return
        for dataset, domain in zip(self.datasets, self.domain_names):
            _init_domain(dataset, domain)
        super().full_init()

    def domain_of(self, idx: int) -> int:
        """Position in ``datasets`` of the dataset holding sample ``idx``."""
        return self._get_ori_dataset_idx(idx)[0]

    def _tags(self, position: int) -> dict:
        return dict(
            domain_idx=self.domain_indices[position],
            domain_name=self.domain_names[position])

    def get_data_info(self, idx: int) -> dict:
        """The wrapped dataset's data info of sample ``idx``, with its tags."""
        info = super().get_data_info(idx)
        info.update(self._tags(self.domain_of(idx)))
        return info

    def __getitem__(self, idx: int):
        data = super().__getitem__(idx)
        if isinstance(data, dict):  # a list: views TransformDomains tagged
            tag_domain(
                data,
                **self._tags(self.domain_of(idx)),
                where='MultiDomainDataset',
                unpacked=True)
        return data
