"""Per-domain, per-class IoU for validation over several data domains."""
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmseg.evaluation import IoUMetric
from mmseg.registry import DATASETS, METRICS

from cn_seg.structures import sample_domain_tags
from .summaries import (check_class_subsets, check_domain_names,
                        check_mean_over_domains, check_subset_classes,
                        domain_mean, subset_summaries)

#: The per-class quantity reported for each of mmseg's ``iou_metrics``.
_PER_CLASS = {'mIoU': 'IoU', 'mDice': 'Dice', 'mFscore': 'Fscore'}


def dataset_class_subsets(dataset_type: str) -> Dict[str, List[str]]:
    """The ``CLASS_SUBSETS`` a registered dataset type ships.

    Raises:
        ValueError: If the type is not registered or ships none.
    """
    cls = DATASETS.get(dataset_type)
    subsets = getattr(cls, 'CLASS_SUBSETS', None)
    if subsets is None:
        raise ValueError(
            f'MultiDomainIoUMetric class_subsets={dataset_type!r}: ' +
            ('no such dataset type is registered' if cls is
             None else 'that dataset ships no CLASS_SUBSETS') +
            "; give a dataset "
            "that does (e.g. 'SynthiaDataset') or a dict of subset name to "
            'class names.')
    return subsets


@METRICS.register_module()
class MultiDomainIoUMetric(IoUMetric):
    """mmseg's :class:`~mmseg.evaluation.IoUMetric`, separately per domain.

    Samples are grouped by ``metainfo['domain_name']`` (set by
    :class:`cn_seg.openmmlab.datasets.MultiDomainDataset`). For every domain
    it prints
    mmseg's per-class table and returns, under the domain's name:

    - mmseg's summary keys: ``cityscapes/aAcc``, ``cityscapes/mIoU``,
      ``cityscapes/mAcc`` (``mDice``, ``mFscore``, ``mPrecision``,
      ``mRecall`` with those ``iou_metrics``);
    - every per-class value: ``cityscapes/IoU.road``, ``cityscapes/Acc.road``
      (``Dice.road``, ``Fscore.road``);
    - for each of ``class_subsets``, mmseg's class means over the subset's
      classes only: ``cityscapes/mIoU.synthia16``,
      ``cityscapes/mAcc.synthia16`` (no ``aAcc``: it is not a class mean).

    With ``mean_over_domains`` it also returns the mean over domains of each
    summary key above (not of the per-class values): ``mean/mIoU``,
    ``mean/aAcc``, ``mean/mAcc``, ``mean/mIoU.synthia16``, ... (every domain
    counts once, whatever its number of samples), so that a run can be
    selected by one number, e.g. ``save_best='mean/mIoU'``.

    Values reach the log, the JSON scalars and TensorBoard. They are
    percentages rounded to two decimals, as mmseg's (a mean over domains or
    classes is taken before rounding). A class absent from both ground truth
    and prediction of a domain is NaN (or ``nan_to_num`` times 100, as in
    mmseg's table) and is left out of the class means, as in mmseg's mIoU; a
    subset whose classes are all NaN has NaN means, and so does a mean over
    domains that includes it. Samples without ``domain_name`` are grouped as
    ``domain{domain_idx}`` (``domain0`` without either).

    Example:
        >>> val_evaluator = dict(
        ...     type='MultiDomainIoUMetric', iou_metrics=['mIoU'],
        ...     mean_over_domains=['cityscapes', 'mapillary'],
        ...     class_subsets=dict(synthia16=[
        ...         'road', 'sidewalk', 'building', 'wall', 'fence', 'pole',
        ...         'traffic light', 'traffic sign', 'vegetation', 'sky',
        ...         'person', 'rider', 'car', 'bus', 'motorcycle',
        ...         'bicycle']))

    Args:
        mean_over_domains (bool | list[str]): True: the ``mean/`` keys
            average every evaluated domain; a list: only the named domains
            (an error at evaluation if one was not evaluated); False: no
            ``mean/`` keys. Default: True.
        class_subsets (dict[str, list[str]] | str, optional): Subset name
            to class names of the dataset (checked when the dataset's
            classes are set); the name appears in the keys. A dataset type
            (``'SynthiaDataset'``) takes the subsets that dataset ships as
            ``CLASS_SUBSETS`` (``synthia16``, ``synthia13``). Default: None.
        **kwargs: Arguments of :class:`mmseg.evaluation.IoUMetric`
            (``iou_metrics``, ``ignore_index``, ``nan_to_num``, ...).

    Raises:
        ValueError: If ``mean_over_domains`` or ``class_subsets`` is
            malformed, a subset names a class the dataset does not have, a
            domain is named ``mean`` while ``mean_over_domains`` is on, or a
            named domain was not evaluated.
    """

    def __init__(self,
                 mean_over_domains: Union[bool, Sequence[str]] = True,
                 class_subsets: Optional[Union[Mapping[str, Sequence[str]],
                                               str]] = None,
                 **kwargs) -> None:
        self.mean_over_domains = check_mean_over_domains(mean_over_domains)
        self.class_subsets = check_class_subsets(
            dataset_class_subsets(class_subsets) if isinstance(
                class_subsets, str) else class_subsets)
        super().__init__(**kwargs)

    @property
    def dataset_meta(self) -> Optional[dict]:
        """The dataset's meta information (``classes``, ``palette``)."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: Optional[dict]) -> None:
        # Checked here, when the Runner builds the loop, so that a typo in a
        # subset or domain stops the run before training rather than at
        # validation (MultiDomainDataset's metainfo names its domains).
        if dataset_meta and 'classes' in dataset_meta:
            check_subset_classes(self.class_subsets, dataset_meta['classes'])
        if dataset_meta and 'domain_names' in dataset_meta:
            check_domain_names(self.mean_over_domains,
                               dataset_meta['domain_names'])
        BaseMetric.dataset_meta.fset(self, dataset_meta)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Compute each sample's areas with mmseg's code, keyed by domain."""
        for data_sample in data_samples:
            num_results = len(self.results)
            super().process(data_batch, [data_sample])
            if len(self.results) > num_results:
                self.results[-1] = (sample_domain_tags(data_sample)[1],
                                    *self.results[-1])

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        """Compute mmseg's metrics per domain, prefixed by the domain name.

        Args:
            results (list[tuple]): ``(domain_name, intersect, union,
                pred_area, label_area)`` of every sample.

        Returns:
            dict[str, float]: The keys listed in the class docstring.
        """
        if self.format_only:
            return super().compute_metrics(results)
        by_domain: Dict[str, list] = OrderedDict()
        for name, *areas in results:
            by_domain.setdefault(name, []).append(areas)
        if self.mean_over_domains is not False:
            check_domain_names(True, list(by_domain))
        classes = self.dataset_meta['classes']
        check_subset_classes(self.class_subsets, classes)
        metrics: Dict[str, float] = OrderedDict()
        summaries = OrderedDict()
        for name, areas in by_domain.items():
            print_log(f'domain {name}:', logger='current')
            super().compute_metrics(areas)  # for mmseg's per-class table
            class_metrics = self.total_area_to_metrics(
                *[sum(column) for column in zip(*areas)], self.metrics,
                self.nan_to_num, self.beta)
            summary = OrderedDict((key if key == 'aAcc' else f'm{key}',
                                   float(np.nanmean(value) * 100))
                                  for key, value in class_metrics.items())
            summary.update(
                subset_summaries(class_metrics, classes, self.class_subsets))
            summaries[name] = summary
            metrics.update(_rounded(name, summary))
            metrics.update(self._per_class(name, class_metrics))
        if self.mean_over_domains is not False:
            metrics.update(
                _rounded(
                    None,
                    domain_mean(
                        summaries, None if self.mean_over_domains is True else
                        self.mean_over_domains)))
        return metrics

    def _per_class(self, name: str,
                   class_metrics: Dict[str, np.ndarray]) -> Dict[str, float]:
        """Per-class values of one domain, from mmseg's metric function."""
        metrics = [self.metrics] if isinstance(self.metrics,
                                               str) else self.metrics
        keys = [_PER_CLASS[m] for m in metrics] + ['Acc']
        out = OrderedDict()
        for key in dict.fromkeys(k for k in keys if k in class_metrics):
            for cls, value in zip(self.dataset_meta['classes'],
                                  class_metrics[key]):
                out[f'{name}/{key}.{cls}'] = round(float(value) * 100, 2)
        return out


def _rounded(prefix: Optional[str],
             values: Mapping[str, float]) -> Dict[str, float]:
    """``values`` rounded as mmseg rounds, keys prefixed by ``prefix/``."""
    return OrderedDict(
        (key if prefix is None else f'{prefix}/{key}', round(float(value), 2))
        for key, value in values.items())
