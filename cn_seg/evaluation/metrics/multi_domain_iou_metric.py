"""Per-domain, per-class IoU for validation over several data domains."""
from collections import OrderedDict
from typing import Dict, List, Sequence

from mmengine.logging import print_log
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS

from ...structures import sample_domain_tags

#: The per-class quantity reported for each of mmseg's ``iou_metrics``.
_PER_CLASS = {'mIoU': 'IoU', 'mDice': 'Dice', 'mFscore': 'Fscore'}


@METRICS.register_module()
class MultiDomainIoUMetric(IoUMetric):
    """mmseg's :class:`~mmseg.evaluation.IoUMetric`, separately per domain.

    Samples are grouped by ``metainfo['domain_name']`` (set by
    :class:`cn_seg.datasets.MultiDomainDataset`). For every domain it prints
    mmseg's per-class table and returns mmseg's summary keys and every
    per-class value under the domain's name, e.g. ``cityscapes/aAcc``,
    ``cityscapes/mIoU``, ``cityscapes/mAcc``, ``cityscapes/IoU.road``, so
    that they reach the log, the JSON scalars and TensorBoard. Values are
    percentages rounded to two decimals, as mmseg's; a class absent from both
    ground truth and prediction of a domain is NaN (or ``nan_to_num`` times
    100, as in mmseg's table). Samples without ``domain_name`` are grouped
    as ``domain{domain_idx}`` (``domain0`` without either).

    Example:
        >>> val_evaluator = dict(type='MultiDomainIoUMetric',
        ...                      iou_metrics=['mIoU'])

    Args:
        **kwargs: Arguments of :class:`mmseg.evaluation.IoUMetric`
            (``iou_metrics``, ``ignore_index``, ``nan_to_num``, ...).
    """

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
            dict[str, float]: ``{domain}/{metric}`` and
            ``{domain}/{IoU|Dice|Fscore|Acc}.{class}`` for every domain.
        """
        if self.format_only:
            return super().compute_metrics(results)
        by_domain: Dict[str, list] = OrderedDict()
        for name, *areas in results:
            by_domain.setdefault(name, []).append(areas)
        metrics: Dict[str, float] = OrderedDict()
        for name, areas in by_domain.items():
            print_log(f'domain {name}:', logger='current')
            for key, value in super().compute_metrics(areas).items():
                metrics[f'{name}/{key}'] = round(float(value), 2)
            metrics.update(self._per_class(name, areas))
        return metrics

    def _per_class(self, name: str, areas: List[tuple]) -> Dict[str, float]:
        """Per-class values of one domain, from mmseg's metric function."""
        totals = [sum(column) for column in zip(*areas)]
        class_metrics = self.total_area_to_metrics(*totals, self.metrics,
                                                   self.nan_to_num, self.beta)
        metrics = [self.metrics] if isinstance(self.metrics,
                                               str) else self.metrics
        keys = [_PER_CLASS[m] for m in metrics] + ['Acc']
        out = OrderedDict()
        for key in dict.fromkeys(k for k in keys if k in class_metrics):
            for cls, value in zip(self.dataset_meta['classes'],
                                  class_metrics[key]):
                out[f'{name}/{key}.{cls}'] = round(float(value) * 100, 2)
        return out
