"""An infinite sampler whose every per-GPU batch holds fixed domain quotas."""
import itertools
import logging
from typing import Iterator, List, Optional, Sequence

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.logging import MessageHub, print_log
from mmengine.registry import DATA_SAMPLERS
from torch.utils.data import Sampler

from cn_seg.structures import concat_ranges
from .rare_class_sampling import (RareClassSampling, frame_class_counts,
                                  rcs_settings)

#: Runtime-info key under which the sampler's seed is saved in checkpoints.
SEED_INFO_KEY = 'domain_balanced_sampler_seed'


@DATA_SAMPLERS.register_module()
class DomainBalancedSampler(Sampler):
    """Yield batches of ``samples_per_domain[k]`` samples of each domain ``k``.

    For iteration-based training over a :class:`MultiDomainDataset` (or any
    ``ConcatDataset``: domain ``k`` is its ``k``-th dataset). Each domain has
    its own endless stream of shuffled passes over its samples. Every global
    step takes ``world_size * samples_per_domain[k]`` samples from stream
    ``k``; rank ``r`` gets slice ``r`` of each, so ranks never share a sample
    within a step (given ``world_size * samples_per_domain[k]`` samples of
    domain ``k`` at least). A per-GPU batch lists domain 0's samples first,
    then domain 1's, ... (the layout CN handles fastest). The sequence
    depends only on the seed, the domain sizes, ``samples_per_domain`` and
    the world size, and is the same on every rank.

    The dataloader must group the indices into batches of exactly
    ``sum(samples_per_domain)``: configure
    ``batch_sampler=dict(type='DomainBalancedBatchSampler')``, which checks
    the dataloader's ``batch_size`` when the Runner builds it; iterating
    without that check raises.

    Resume: the seed is stored in the Runner's message hub and so in every
    checkpoint. After ``--resume`` the sampler takes the checkpoint's seed
    (mmengine restores it only after the dataloader is built) and replays
    the sequence from the position it reached, while mmengine's
    ``IterBasedTrainLoop`` skips the batches already trained on: the run
    continues with the batches the interrupted run would have drawn next.
    This is exact unless the config leaves the seed random and the run
    resumes before iteration ``prefetch_factor * num_workers`` (batches the
    workers prefetched before the checkpoint was loaded); a warning says so.

    Rare-class sampling (DAFormer's RCS, :mod:`.rare_class_sampling`):
    with ``rare_class_sampling`` a domain's stream draws each sample by
    first drawing a class with ``softmax((1 - frequency) / temperature)``
    over the domain's classes, then a frame holding at least ``min_pixels``
    of it, from the converters' ``class_pixel_counts.json`` in the domain's
    ``data_root``. Draws are independent (a frame can recur within a step),
    and the sequence is as deterministic, distributed and resumable as the
    shuffled passes.

    Args:
        dataset (ConcatDataset): The multi-domain dataset.
        samples_per_domain (Sequence[int]): Samples of each domain in every
            per-GPU batch, e.g. ``[1, 1]``.
        shuffle (bool): Shuffle each pass over a domain. Default: True.
        seed (int, optional): Random seed, the same on all ranks. The Runner
            passes its own. Default: None, a seed synchronized across ranks.
        rare_class_sampling (dict, optional): ``dict(temperature=0.01,
            min_pixels=3000)`` for every domain, or a dict from domain index
            or name to such a setting (None or unlisted: shuffled passes).
            Default: None (shuffled passes for every domain).
    """

    def __init__(self,
                 dataset,
                 samples_per_domain: Sequence[int],
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 rare_class_sampling: Optional[dict] = None) -> None:
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        self.domain_ranges = self._domain_ranges(dataset)
        self.samples_per_domain = self._check_quotas(samples_per_domain,
                                                     self.domain_ranges)
        self.batch_size = sum(self.samples_per_domain)
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.rare_class_sampling = self._rare_class_sampling(
            dataset, rare_class_sampling)
        #: Set by :class:`DomainBalancedBatchSampler` once it checked the
        #: dataloader's batch size.
        self.checked_batch_size: Optional[int] = None
        self._message_hub = MessageHub.get_current_instance()
        self._message_hub.update_info(SEED_INFO_KEY, self.seed)

    @staticmethod
    def _domain_ranges(dataset) -> List[range]:
        if hasattr(dataset, 'full_init'):
            dataset.full_init()
        try:
            return concat_ranges(dataset)
        except TypeError as error:
            raise TypeError(
                'DomainBalancedSampler needs a dataset with one sub-dataset '
                f'per domain: {error}') from None

    @staticmethod
    def _check_quotas(quotas, ranges) -> List[int]:
        quotas = list(quotas)
        if len(quotas) != len(ranges) or not all(
                isinstance(q, int) and q >= 0
                for q in quotas) or sum(quotas) == 0:
            raise ValueError(
                f'DomainBalancedSampler: samples_per_domain={quotas} must be '
                f'{len(ranges)} non-negative ints (one per domain of the '
                'dataset), not all zero.')
        for k, (q, r) in enumerate(zip(quotas, ranges)):
            if q > 0 and len(r) == 0:
                raise ValueError(
                    f'DomainBalancedSampler: domain {k} has no samples but '
                    f'samples_per_domain[{k}]={q}; check its ann_file and '
                    'data_root.')
        return quotas

    def _rare_class_sampling(self, dataset,
                             config) -> List[Optional[RareClassSampling]]:
        """Each domain's RCS draw (None for shuffled passes)."""
        names = list(
            getattr(dataset, 'domain_names', None)
            or [f'domain{k}' for k in range(len(self.domain_ranges))])
        out: List[Optional[RareClassSampling]] = []
        for k, setting in enumerate(rcs_settings(config, names)):
            if setting is None or not self.samples_per_domain[k]:
                out.append(None)
                continue
            try:
                rcs = RareClassSampling(
                    frame_class_counts(dataset.datasets[k]), **setting)
            except ValueError as error:
                raise ValueError(f"DomainBalancedSampler, domain "
                                 f"'{names[k]}': {error}") from None
            classes = dataset.datasets[k].metainfo['classes']
            print_log(
                f"DomainBalancedSampler: rare-class sampling of domain "
                f"'{names[k]}': " +
                ', '.join(f'{classes[c]} {p:.3f}'
                          for c, p in zip(rcs.classes, rcs.probs)) +
                ('' if not rcs.dropped else '; never drawn (no frame with '
                 'min_pixels of them): ' + ', '.join(classes[c]
                                                     for c in rcs.dropped)),
                logger='current')
            out.append(rcs)
        return out

    def _domain_stream(self, k: int, seed: int) -> Iterator[int]:
        """Endless shuffled passes over domain ``k``'s global indices (or
        its rare-class draws).

        A pass that starts inside a global step puts the samples its
        predecessor already gave to that step last, so that no step (over
        all ranks) draws a sample twice while the domain has at least
        ``world_size * samples_per_domain[k]`` samples.
        """
        rng = np.random.default_rng([seed, k])
        indices = np.asarray(self.domain_ranges[k])
        if self.rare_class_sampling[k] is not None:
            start = self.domain_ranges[k].start
            yield from (start + i
                        for i in self.rare_class_sampling[k].stream(rng))
            return
        step = self.world_size * self.samples_per_domain[k]
        order: List[int] = []
        drawn = 0
        while True:
            in_step = drawn % step if step else 0
            recent = set(order[max(len(order) -
                                   in_step, 0):] if in_step else [])
            order = (rng.permutation(indices)
                     if self.shuffle else indices).tolist()
            if recent:
                order = ([i for i in order if i not in recent] +
                         [i for i in order if i in recent])
            yield from order
            drawn += len(order)

    def _global_steps(self, seed: int, start: int) -> Iterator[List[int]]:
        """Per-GPU batches of this rank from global step ``start`` on."""
        quotas = self.samples_per_domain
        streams = [
            itertools.islice(
                self._domain_stream(k, seed), start * self.world_size * q,
                None) for k, q in enumerate(quotas)
        ]
        while True:
            batch: List[int] = []
            for stream, q in zip(streams, quotas):
                step = list(itertools.islice(stream, self.world_size * q))
                batch += step[self.rank * q:(self.rank + 1) * q]
            yield batch

    def _resumed_seed(self, position: int) -> int:
        """The seed in the message hub (a resumed checkpoint's, if any).

        Args:
            position (int): Batches this rank's iterator produced so far.
        """
        seed = self._message_hub.get_info(SEED_INFO_KEY, self.seed)
        if seed == self.seed:
            return seed
        print_log(
            f'DomainBalancedSampler: continuing the sample order of the '
            f'resumed run (seed {seed} instead of {self.seed}).',
            logger='current')
        resumed_iter = self._message_hub.get_info('iter', position)
        if position > resumed_iter:
            print_log(
                f'DomainBalancedSampler: the dataloader had prefetched '
                f'{position} batches before the checkpoint of iteration '
                f'{resumed_iter} was loaded; {position - resumed_iter} of '
                'them differ from the interrupted run. Fix the seed '
                '(randomness=dict(seed=...)) for an exact continuation.',
                logger='current',
                level=logging.WARNING)
        self.seed = seed
        return seed

    def __iter__(self) -> Iterator[int]:
        if self.checked_batch_size != self.batch_size:
            raise ValueError(
                'DomainBalancedSampler: the dataloader batch size was not '
                'checked against samples_per_domain='
                f'{self.samples_per_domain}. Add batch_sampler=dict('
                "type='DomainBalancedBatchSampler') to the dataloader config, "
                f'with batch_size={self.batch_size}.')
        position, seed = 0, self._resumed_seed(0)
        steps = self._global_steps(seed, position)
        while True:
            # The seed changes when a checkpoint is resumed after the
            # dataloader started prefetching: replay from this position (the
            # training loop skips the batches before the checkpoint).
            if self._resumed_seed(position) != seed:
                seed = self.seed
                steps = self._global_steps(seed, position)
            yield from next(steps)
            position += 1

    def __len__(self) -> int:
        """The dataset size (the sampler itself never ends)."""
        return self.domain_ranges[-1].stop

    def set_epoch(self, epoch: int) -> None:
        """Nothing to do: the sequence is endless and resumes by position."""
