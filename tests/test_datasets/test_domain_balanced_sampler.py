"""DomainBalancedSampler: quotas, domain-major order, ranks, batch size."""
import itertools
import multiprocessing

import pytest
import torch.distributed as dist
from mmengine.runner import Runner
from torch.utils.data import ConcatDataset

from cn_seg.openmmlab.datasets import (DomainBalancedBatchSampler,
                                       DomainBalancedSampler)

SIZES = (4, 6)  # domain 0 holds indices 0-3, domain 1 indices 4-9


def _dataset(sizes=SIZES):
    return ConcatDataset([list(range(n)) for n in sizes])


def _batches(sampler, n):
    batch_sampler = DomainBalancedBatchSampler(sampler, sampler.batch_size)
    return list(itertools.islice(iter(batch_sampler), n))


def _domain(index, sizes=SIZES):
    return 0 if index < sizes[0] else 1


def test_every_batch_holds_the_quotas_domain_major():
    sampler = DomainBalancedSampler(_dataset(), [2, 1], seed=3)
    batches = _batches(sampler, 12)
    for batch in batches:
        assert [_domain(i) for i in batch] == [0, 0, 1]
    # each domain is walked in shuffled passes: every sample once per pass
    draws0 = [i for b in batches for i in b[:2]]
    draws1 = [b[2] for b in batches]
    for p in range(len(draws0) // 4):
        assert sorted(draws0[4 * p:4 * p + 4]) == [0, 1, 2, 3]
    for p in range(len(draws1) // 6):
        assert sorted(draws1[6 * p:6 * p + 6]) == [4, 5, 6, 7, 8, 9]
    assert draws0[:4] != [0, 1, 2, 3] or draws0[4:8] != [0, 1, 2, 3]


def test_the_seed_fixes_the_sequence():
    first = _batches(DomainBalancedSampler(_dataset(), [1, 1], seed=5), 8)
    again = _batches(DomainBalancedSampler(_dataset(), [1, 1], seed=5), 8)
    other = _batches(DomainBalancedSampler(_dataset(), [1, 1], seed=6), 8)
    assert first == again != other
    unshuffled = _batches(
        DomainBalancedSampler(_dataset(), [1, 1], shuffle=False, seed=0), 5)
    assert unshuffled == [[0, 4], [1, 5], [2, 6], [3, 7], [0, 8]]


def _rank_worker(rank, store, queue):
    dist.init_process_group(
        'gloo', init_method=f'file://{store}', rank=rank, world_size=2)
    sampler = DomainBalancedSampler(_dataset(), [1, 2])  # seed synchronized
    queue.put((rank, sampler.seed, _batches(sampler, 6)))
    dist.barrier()
    dist.destroy_process_group()


def test_two_ranks_share_one_sequence_without_overlap(tmp_path):
    context = multiprocessing.get_context('fork')
    queue = context.Queue()
    procs = [
        context.Process(
            target=_rank_worker, args=(r, tmp_path / 'store', queue))
        for r in range(2)
    ]
    for p in procs:
        p.start()
    results = dict((r, (seed, b))
                   for r, seed, b in (queue.get(timeout=60) for _ in procs))
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert results[0][0] == results[1][0]  # one seed on both ranks
    steps = list(zip(results[0][1], results[1][1]))
    for b0, b1 in steps:
        for b in (b0, b1):
            assert [_domain(i) for i in b] == [0, 1, 1]
        assert not set(b0) & set(b1)  # no sample on both ranks in a step
    # together the ranks walk each domain in whole passes
    draws0 = [i for b0, b1 in steps for i in (b0[0], b1[0])]
    draws1 = [i for b0, b1 in steps for i in b0[1:] + b1[1:]]
    assert sorted(draws0[:4]) == sorted(draws0[4:8]) == [0, 1, 2, 3]
    assert sorted(draws1[:6]) == sorted(draws1[6:12]) == list(range(4, 10))


def test_batch_size_must_match_the_quotas():
    cfg = dict(
        batch_size=3,
        num_workers=0,
        sampler=dict(type='DomainBalancedSampler', samples_per_domain=[1, 1]),
        batch_sampler=dict(type='DomainBalancedBatchSampler'),
        dataset=_dataset())
    with pytest.raises(ValueError, match=r'batch_size=3 .* Set batch_size=2'):
        Runner.build_dataloader(cfg, seed=0)
    cfg.update(batch_size=2)
    loader = Runner.build_dataloader(cfg, seed=0)
    assert [len(b) for b in itertools.islice(iter(loader), 3)] == [2, 2, 2]


def test_without_the_batch_sampler_iterating_is_an_error():
    loader = Runner.build_dataloader(
        dict(
            batch_size=2,
            num_workers=0,
            dataset=_dataset(),
            sampler=dict(
                type='DomainBalancedSampler', samples_per_domain=[1, 1])),
        seed=0)
    with pytest.raises(ValueError, match='DomainBalancedBatchSampler'):
        next(iter(loader))


@pytest.mark.parametrize('quotas, match', [([1], 'samples_per_domain'),
                                           ([0, 0], 'not all zero'),
                                           ([1, 1.5], 'non-negative ints')])
def test_bad_quotas_are_refused(quotas, match):
    with pytest.raises(ValueError, match=match):
        DomainBalancedSampler(_dataset(), quotas, seed=0)


def test_empty_domain_with_a_quota_is_refused():
    with pytest.raises(ValueError, match='domain 1 has no samples'):
        DomainBalancedSampler(_dataset((3, 0)), [1, 1], seed=0)
    with pytest.raises(TypeError, match='MultiDomainDataset'):
        DomainBalancedSampler(list(range(4)), [1], seed=0)
