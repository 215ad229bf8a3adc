"""DomainBalancedSampler with rare-class sampling (DAFormer's RCS).

The reference is the draw's probability of every frame computed by hand,
``P(f) = sum_c softmax((1 - freq) / T)_c * [f holds >= min_pixels of c] /
#frames holding them``, compared with the frequencies of many draws.
"""
import itertools
import json
import multiprocessing

import numpy as np
import pytest
import torch.distributed as dist
from mmengine.dataset import BaseDataset

from cn_seg.openmmlab.datasets import DomainBalancedSampler, MultiDomainDataset

CLASSES = ('road', 'car', 'bicycle')
# Pixels of each class in each frame of the rare domain.
COUNTS = [[900, 100, 0], [800, 0, 30], [1000, 50, 5], [950, 0, 0],
          [700, 200, 20]]


class Frames(BaseDataset):
    """Frames ``{i}.png`` whose labels are ``labels/{i}_labelTrainIds.png``;
    nothing is read but the counts."""
    METAINFO = dict(classes=CLASSES)

    def __init__(self, num, **kwargs):
        self.num = num
        super().__init__(serialize_data=False, **kwargs)

    def load_data_list(self):
        return [
            dict(
                img_path=f'{self.data_root}/{i}.png',
                seg_map_path=f'{self.data_root}/labels/'
                f'{i}_labelTrainIds.png') for i in range(self.num)
        ]


def write_counts(root, counts, classes=CLASSES):
    (root / 'class_pixel_counts.json').write_text(
        json.dumps(
            dict(
                classes=list(classes),
                counts={
                    f'labels/{i}_labelTrainIds.png': c
                    for i, c in enumerate(counts)
                })))


@pytest.fixture
def dataset(tmp_path):
    (tmp_path / 'rare').mkdir()
    (tmp_path / 'plain').mkdir()
    write_counts(tmp_path / 'rare', COUNTS)
    return MultiDomainDataset(
        datasets=[
            Frames(4, data_root=str(tmp_path / 'plain')),
            Frames(5, data_root=str(tmp_path / 'rare'))
        ],
        domain_names=['plain', 'rare'])


def expected_frame_probs(counts, temperature, min_pixels):
    counts = np.asarray(counts, dtype=float)
    freq = counts.sum(0) / counts.sum()
    holding = [counts[:, c] >= min_pixels for c in range(counts.shape[1])]
    drawable = [
        c for c in range(counts.shape[1])
        if counts[:, c].sum() > 0 and holding[c].any()
    ]
    weights = {c: np.exp((1 - freq[c]) / temperature) for c in drawable}
    total = sum(weights.values())
    probs = np.zeros(len(counts))
    for c in drawable:
        probs += weights[c] / total * holding[c] / holding[c].sum()
    return probs


def draws(sampler, n, start=0):
    sampler.checked_batch_size = sampler.batch_size
    steps = sampler._global_steps(sampler.seed, start)
    return [next(steps) for _ in range(n)]


@pytest.mark.parametrize('temperature, min_pixels', [(0.1, 20), (0.5, 1)])
def test_frames_are_drawn_with_the_rcs_probabilities(dataset, temperature,
                                                     min_pixels):
    rcs = dict(temperature=temperature, min_pixels=min_pixels)
    sampler = DomainBalancedSampler(
        dataset, [1, 2], seed=0, rare_class_sampling=dict(rare=rcs))
    batches = draws(sampler, 20000)
    plain = [b[0] for b in batches]
    rare = [i - 4 for b in batches for i in b[1:]]
    # The plain domain keeps its shuffled passes.
    assert sorted(plain[:4]) == sorted(plain[4:8]) == [0, 1, 2, 3]
    freq = np.bincount(rare, minlength=5) / len(rare)
    np.testing.assert_allclose(
        freq, expected_frame_probs(COUNTS, temperature, min_pixels), atol=0.01)


def test_one_setting_for_every_domain_needs_every_domains_counts(dataset):
    with pytest.raises(
            ValueError,
            match=r"domain 'plain': .*plain/class_"
            'pixel_counts.json, which does not exist. Run '
            '`python tools/dataset_converters/<dataset>.py'):
        DomainBalancedSampler(
            dataset, [1, 1],
            seed=0,
            rare_class_sampling=dict(temperature=0.01))
    # A domain without quota is never drawn: its counts are not needed.
    DomainBalancedSampler(
        dataset, [0, 1],
        seed=0,
        rare_class_sampling=dict(temperature=0.01, min_pixels=20))


def test_stale_counts_are_clear_errors(dataset, tmp_path):
    rare = tmp_path / 'rare'
    write_counts(rare, COUNTS[:4])
    with pytest.raises(
            ValueError,
            match=r'has no counts for labels/4_label'
            r'TrainIds.png \(it is older'):
        DomainBalancedSampler(
            dataset, [1, 1], seed=0, rare_class_sampling={1: {}})
    write_counts(rare, COUNTS, classes=('road', 'car', 'bus'))
    with pytest.raises(ValueError, match="counts the classes.*'bus'"):
        DomainBalancedSampler(
            dataset, [1, 1], seed=0, rare_class_sampling={1: {}})
    (rare / 'class_pixel_counts.json').write_text('{"classes": ')
    with pytest.raises(ValueError, match='cannot read'):
        DomainBalancedSampler(
            dataset, [1, 1], seed=0, rare_class_sampling={1: {}})


@pytest.mark.parametrize('config, match', [
    (dict(rare=dict(tau=1)), r"rare_class_sampling\['rare'\] must be None"),
    (dict(other=dict()), "key 'other' is neither a setting"),
    (['rare'], 'must be a dict'),
    (dict(temperature=0), 'temperature must be > 0'),
    (dict(min_pixels=10**6),
     "domain 'rare': .*no frame holds min_pixels=1000000"),
])
def test_bad_settings_are_refused(dataset, config, match):
    with pytest.raises(ValueError, match=match):
        DomainBalancedSampler(
            dataset, [0, 1], seed=0, rare_class_sampling=config)


def test_deterministic_per_seed_and_resumable_by_position(dataset):
    rcs = dict(rare=dict(temperature=0.1, min_pixels=20))
    first = draws(
        DomainBalancedSampler(
            dataset, [1, 2], seed=4, rare_class_sampling=rcs), 3000)
    again = draws(
        DomainBalancedSampler(
            dataset, [1, 2], seed=4, rare_class_sampling=rcs), 3000)
    other = draws(
        DomainBalancedSampler(
            dataset, [1, 2], seed=5, rare_class_sampling=rcs), 3000)
    assert first == again != other
    # What a resumed run replays from step 2500 on (across a block of draws).
    resumed = draws(
        DomainBalancedSampler(
            dataset, [1, 2], seed=4, rare_class_sampling=rcs),
        500,
        start=2500)
    assert resumed == first[2500:]


def _rank_worker(rank, store, root, queue):
    dist.init_process_group(
        'gloo', init_method=f'file://{store}', rank=rank, world_size=2)
    dataset = MultiDomainDataset(
        datasets=[
            Frames(4, data_root=f'{root}/plain'),
            Frames(5, data_root=f'{root}/rare')
        ],
        domain_names=['plain', 'rare'])
    sampler = DomainBalancedSampler(
        dataset, [1, 2],
        seed=7,
        rare_class_sampling=dict(rare=dict(temperature=0.1, min_pixels=20)))
    sampler.checked_batch_size = sampler.batch_size
    queue.put((rank, list(itertools.islice(iter(sampler), 3 * 300))))
    dist.barrier()
    dist.destroy_process_group()


def test_two_ranks_take_their_slices_of_one_sequence(dataset, tmp_path):
    """Each step of two ranks with quotas [1, 2] is one step of a single
    process with quotas [2, 4], rank 0 taking the first of each domain."""
    context = multiprocessing.get_context('fork')
    queue = context.Queue()
    procs = [
        context.Process(
            target=_rank_worker, args=(r, tmp_path / 'store', tmp_path, queue))
        for r in range(2)
    ]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    single = draws(
        DomainBalancedSampler(
            dataset, [2, 4],
            seed=7,
            rare_class_sampling=dict(
                rare=dict(temperature=0.1, min_pixels=20))), 300)
    for i, step in enumerate(single):
        assert results[0][3 * i:3 * i + 3] == [step[0]] + step[2:4]
        assert results[1][3 * i:3 * i + 3] == [step[1]] + step[4:6]
