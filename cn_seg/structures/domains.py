"""The domain of a sample: its CN bank ``domain_idx`` and its ``domain_name``.

Every part of cn_seg that tags, reads or names a domain goes through the
rules below, written once:

- a data sample's ``metainfo['domain_idx']`` is its bank, 0 when absent;
- its ``metainfo['domain_name']`` names the domain in metrics and logs; a
  domain known only by its index is called ``domain{idx}``;
- a dataset's default domain name is its class name without ``Dataset``, in
  lower case (``CityscapesDataset`` -> ``cityscapes``);
- the sub-dataset ``k`` of a concatenated dataset holds the global indices
  ``range(cumulative_sizes[k - 1], cumulative_sizes[k])``.
"""
import re
from typing import Any, List, Mapping, NamedTuple, Optional, Sequence


class DomainTags(NamedTuple):
    """The domains of a batch, as domain routing takes them.

    Args:
        domain_idx (list[int]): The bank of each sample.
        names (list[str]): The name of each bank index up to the highest one
            in the batch (``domain{k}`` for a bank no sample names).
    """
    domain_idx: List[int]
    names: List[str]


def fallback_domain_name(domain_idx: int) -> str:
    """The name of a domain known only by its bank index: ``domain{idx}``."""
    return f'domain{int(domain_idx)}'


def default_domain_name(dataset: Any) -> str:
    """A dataset's default domain name: ``CityscapesDataset`` -> ``cityscapes``.

    Args:
        dataset: A dataset or dataset class.
    """
    cls = dataset if isinstance(dataset, type) else type(dataset)
    return re.sub(r'Dataset$', '', cls.__name__).lower() or 'domain'


def sample_domain_tags(metainfo: Mapping) -> tuple:
    """``(domain_idx, domain_name)`` of one sample's metainfo.

    Args:
        metainfo (Mapping): A data sample's metainfo (or a dict of the
            same keys, such as an evaluator's per-sample dict).

    Returns:
        tuple[int, str]: The bank (0 when absent) and the name
        (:func:`fallback_domain_name` when absent).
    """
    domain_idx = int(metainfo.get('domain_idx', 0))
    name = metainfo.get('domain_name')
    return domain_idx, str(name) if name else fallback_domain_name(domain_idx)


def batch_domain_tags(data_samples: Any) -> Optional[DomainTags]:
    """The :class:`DomainTags` of a batch of data samples, or None.

    Args:
        data_samples: What a segmentor's forward gets as ``data_samples``.

    Returns:
        DomainTags | None: None when there are no data samples to read
        (e.g. ``mode='tensor'`` without them).
    """
    if not isinstance(data_samples, (list, tuple)) or not data_samples:
        return None
    domain_idx, names = [], {}
    for sample in data_samples:
        k = int(sample.metainfo.get('domain_idx', 0))
        domain_idx.append(k)
        if sample.metainfo.get('domain_name'):
            names.setdefault(k, str(sample.metainfo['domain_name']))
    return DomainTags(domain_idx, [
        names.get(k, fallback_domain_name(k))
        for k in range(max(domain_idx) + 1)
    ])


def concat_ranges(dataset: Any) -> List[range]:
    """The global index range of each sub-dataset of a concatenated dataset.

    Args:
        dataset: A dataset with ``cumulative_sizes`` (mmengine's
            ``ConcatDataset``,
            :class:`cn_seg.openmmlab.datasets.MultiDomainDataset`).

    Returns:
        list[range]: One range per sub-dataset, in order.

    Raises:
        TypeError: If ``dataset`` is not a concatenation of datasets.
    """
    sizes: Optional[Sequence[int]] = getattr(dataset, 'cumulative_sizes', None)
    if sizes is None:
        raise TypeError(
            f'{type(dataset).__name__} is not a concatenation of datasets '
            "(no cumulative_sizes); wrap the domains in type='"
            "MultiDomainDataset'.")
    starts = [0] + list(sizes[:-1])
    return [range(start, end) for start, end in zip(starts, sizes)]
