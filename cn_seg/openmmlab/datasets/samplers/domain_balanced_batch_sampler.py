"""Batches of a DomainBalancedSampler, with the batch size checked at build."""
import itertools
from typing import Iterator, List

from mmengine.registry import DATA_SAMPLERS
from torch.utils.data import BatchSampler

from .domain_balanced_sampler import DomainBalancedSampler


@DATA_SAMPLERS.register_module()
class DomainBalancedBatchSampler(BatchSampler):
    """Group a :class:`DomainBalancedSampler`'s indices into its batches.

    The Runner builds it with the dataloader's ``sampler`` and ``batch_size``;
    a batch size other than ``sum(samples_per_domain)`` would mix domains
    across batches, so it is refused here, before training starts::

        train_dataloader = dict(
            batch_size=2,
            sampler=dict(type='DomainBalancedSampler',
                         samples_per_domain=[1, 1]),
            batch_sampler=dict(type='DomainBalancedBatchSampler'),
            dataset=dict(type='MultiDomainDataset', ...))

    Args:
        sampler (DomainBalancedSampler): The dataloader's sampler.
        batch_size (int): The dataloader's ``batch_size``.
        drop_last (bool): Unused (the sampler is endless); kept for the
            ``BatchSampler`` interface. Default: False.
    """

    def __init__(self,
                 sampler: DomainBalancedSampler,
                 batch_size: int,
                 drop_last: bool = False) -> None:
        if not isinstance(sampler, DomainBalancedSampler):
            raise TypeError(
                'DomainBalancedBatchSampler needs '
                "sampler=dict(type='DomainBalancedSampler', ...), got "
                f'{type(sampler).__name__}.')
        if batch_size != sampler.batch_size:
            raise ValueError(
                f'train_dataloader.batch_size={batch_size} does not match '
                'DomainBalancedSampler samples_per_domain='
                f'{sampler.samples_per_domain} (sum {sampler.batch_size}). '
                f'Set batch_size={sampler.batch_size} or change '
                'samples_per_domain.')
        super().__init__(sampler, batch_size, drop_last)
        sampler.checked_batch_size = batch_size

    def __iter__(self) -> Iterator[List[int]]:
        indices = iter(self.sampler)
        while True:
            yield list(itertools.islice(indices, self.batch_size))

    def __len__(self) -> int:
        """Batches in one pass over the dataset (the iteration is endless)."""
        return max(len(self.sampler) // self.batch_size, 1)
