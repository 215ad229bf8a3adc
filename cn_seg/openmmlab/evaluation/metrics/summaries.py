"""Summaries of per-class metrics: class subsets and means over domains.

Both are computed from mmseg's per-class numbers
(:meth:`mmseg.evaluation.IoUMetric.total_area_to_metrics`), in the way mmseg
computes its own summary: the ``nanmean`` over the chosen classes, times 100.
"""
from typing import Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

#: The prefix of the keys of the mean over domains (``mean/mIoU``).
MEAN_PREFIX = 'mean'


def check_class_subsets(
    class_subsets: Optional[Mapping[str,
                                    Sequence[str]]]) -> Dict[str, List[str]]:
    """Validate ``class_subsets`` (the class names are checked later).

    Args:
        class_subsets (Mapping[str, Sequence[str]], optional): Subset name to
            its class names, e.g. ``dict(synthia16=['road', ...])``.

    Returns:
        dict[str, list[str]]: A copy; empty for None.

    Raises:
        ValueError: If it is not such a mapping, a subset name is empty or
            holds '/' or whitespace, or a subset is empty or repeats a class.
    """
    if class_subsets is None:
        return {}
    if not isinstance(class_subsets, Mapping):
        raise ValueError('MultiDomainIoUMetric class_subsets must be a dict '
                         'of subset name to class names, e.g. '
                         "dict(synthia16=['road', ...]), got "
                         f'{class_subsets!r}.')
    subsets = {}
    for name, classes in class_subsets.items():
        if not isinstance(name, str) or not name or '/' in name or \
                any(c.isspace() for c in name):
            raise ValueError(
                f'MultiDomainIoUMetric class_subsets name {name!r} is not '
                "usable in a metric key ('{domain}/mIoU.{name}'); use a "
                "non-empty name without '/' or spaces, e.g. 'synthia16'.")
        if isinstance(classes, str) or not isinstance(classes, Sequence) \
                or not classes or \
                not all(isinstance(c, str) for c in classes):
            raise ValueError(
                f"MultiDomainIoUMetric class_subsets['{name}'] must be a "
                f'non-empty list of class names, got {classes!r}.')
        repeated = sorted({c for c in classes if list(classes).count(c) > 1})
        if repeated:
            raise ValueError(f"MultiDomainIoUMetric class_subsets['{name}'] "
                             f'names {repeated} more than once.')
        subsets[name] = list(classes)
    return subsets


def check_subset_classes(subsets: Mapping[str, Sequence[str]],
                         classes: Sequence[str]) -> None:
    """Refuse a subset that names a class the dataset does not have.

    Raises:
        ValueError: Naming the subset, the unknown class and the classes.
    """
    for name, members in subsets.items():
        unknown = [c for c in members if c not in classes]
        if unknown:
            raise ValueError(
                f"MultiDomainIoUMetric class_subsets['{name}'] names "
                f'{unknown}, not classes of the dataset; its classes are '
                f'{list(classes)}.')


def check_mean_over_domains(
        mean_over_domains: Union[bool,
                                 Sequence[str]]) -> Union[bool, List[str]]:
    """Validate ``mean_over_domains`` (True, False or domain names).

    Raises:
        ValueError: If it is none of these, empty, or repeats a domain.
    """
    if isinstance(mean_over_domains, bool):
        return mean_over_domains
    if isinstance(mean_over_domains, str) or \
            not isinstance(mean_over_domains, Sequence) or \
            not mean_over_domains or \
            not all(isinstance(d, str) for d in mean_over_domains) or \
            len(set(mean_over_domains)) != len(mean_over_domains):
        raise ValueError(
            'MultiDomainIoUMetric mean_over_domains must be True (all '
            'domains), False (no mean) or a list of distinct domain names, '
            f"e.g. ['cityscapes', 'gta5'], got {mean_over_domains!r}.")
    return list(mean_over_domains)


def check_domain_names(mean_over_domains: Union[bool, Sequence[str]],
                       domain_names: Sequence[str]) -> None:
    """Refuse domains that the evaluation dataset does not have.

    Args:
        mean_over_domains (bool | Sequence[str]): As the metric takes it.
        domain_names (Sequence[str]): The dataset's domain names
            (``MultiDomainDataset``'s ``metainfo['domain_names']``).

    Raises:
        ValueError: If a named domain is not one of ``domain_names``, or a
            domain is named ``mean`` while the mean over domains is on.
    """
    if mean_over_domains is False:
        return
    if MEAN_PREFIX in domain_names:
        raise ValueError(
            f"A domain is named '{MEAN_PREFIX}', the prefix of the mean "
            'over domains; rename it (MultiDomainDataset domain_names) '
            'or set mean_over_domains=False.')
    if mean_over_domains is True:
        return
    missing = [d for d in mean_over_domains if d not in domain_names]
    if missing:
        raise ValueError(
            f'MultiDomainIoUMetric mean_over_domains names {missing}, which '
            'are not domains of the evaluation dataset; its domain_names are '
            f'{list(domain_names)} (MultiDomainDataset domain_names).')


def subset_summaries(class_metrics: Mapping[str, np.ndarray],
                     classes: Sequence[str],
                     subsets: Mapping[str, Sequence[str]]) -> Dict[str, float]:
    """mmseg's summary (``m`` + per-class key) over each class subset.

    Args:
        class_metrics (Mapping[str, np.ndarray]): mmseg's per-class values
            (ratios), e.g. ``{'aAcc': ..., 'IoU': ..., 'Acc': ...}``.
        classes (Sequence[str]): The dataset's classes, in index order.
        subsets (Mapping[str, Sequence[str]]): Subset name to class names.

    Returns:
        dict[str, float]: ``{'mIoU.{subset}': ..., 'mAcc.{subset}': ...}``
        in percent, unrounded; NaN where every class of a subset is NaN.
    """
    out = {}
    for name, members in subsets.items():
        index = [list(classes).index(c) for c in members]
        for key, values in class_metrics.items():
            if key == 'aAcc':
                continue
            chosen = np.asarray(values, dtype=np.float64)[index]
            out[f'm{key}.{name}'] = float(np.nanmean(chosen) * 100) \
                if not np.isnan(chosen).all() else float('nan')
    return out


def domain_mean(summaries: Mapping[str, Mapping[str, float]],
                domains: Optional[Sequence[str]]) -> Dict[str, float]:
    """The mean over ``domains`` of each domain's summary values.

    Args:
        summaries (Mapping[str, Mapping[str, float]]): Each domain's summary
            keys (``aAcc``, ``mIoU``, ``mIoU.{subset}``, ...) to values.
        domains (Sequence[str], optional): The domains to average; None for
            all of them.

    Returns:
        dict[str, float]: ``{'mean/{key}': value}``; NaN if a domain's value
        is NaN.

    Raises:
        ValueError: If a named domain was not evaluated.
    """
    names = list(summaries) if domains is None else list(domains)
    missing = [d for d in names if d not in summaries]
    if missing:
        raise ValueError(
            f'MultiDomainIoUMetric mean_over_domains names {missing}, which '
            f'the evaluation did not see; it evaluated {list(summaries)} '
            '(the domain_names of MultiDomainDataset).')
    keys = summaries[names[0]]
    return {
        f'{MEAN_PREFIX}/{key}':
        float(np.mean([summaries[d][key] for d in names]))
        for key in keys
    }
