"""A run resumed from a checkpoint continues the random streams exactly.

A toy model with dropout trained by mmengine's Runner on data augmented
with numpy's and python's generators, validated between iterations; four
iterations straight against two, then a new Runner resuming the other two.
The reference is the uninterrupted run itself; float64 so that equality is
exact or a real difference.
"""
import random

import numpy as np
import pytest
import torch
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

from cn_seg.openmmlab.engine.hooks.random_state_hook import STATE_KEY
from cn_seg.openmmlab.engine.random_state import (get_random_state,
                                                  set_random_state)


class DropoutModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(4, 16), nn.Dropout(0.5), nn.Linear(16, 1)).double()

    def forward(self, inputs, labels=None, mode='tensor'):
        out = self.net(inputs.double())
        if mode == 'loss':
            return dict(loss=((out - labels.double())**2).mean())
        return [dict(pred=o) for o in out]


class AugmentedData(Dataset):
    """Each sample gets numpy and python random offsets (augmentation)."""
    metainfo = dict(classes=('a', ))

    def __len__(self):
        return 6

    def __getitem__(self, idx):
        x = torch.full((4, ), float(idx)) + float(np.random.rand())
        return dict(
            inputs=x + random.random(), labels=torch.tensor([float(idx % 3)]))


class MeanPrediction(BaseMetric):

    def process(self, data_batch, data_samples):
        self.results += [float(s['pred']) for s in data_samples]

    def compute_metrics(self, results):
        return dict(mean=float(np.mean(results)))


def _runner(work_dir, max_iters, hooks, **kwargs):
    torch.manual_seed(0)  # the model is built before the Runner seeds
    loader = dict(
        dataset=AugmentedData(),
        batch_size=2,
        collate_fn=dict(type='default_collate'),
        num_workers=0)
    return Runner(
        model=DropoutModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(loader, sampler=dict(type='InfiniteSampler')),
        val_dataloader=dict(
            loader, sampler=dict(type='DefaultSampler', shuffle=False)),
        val_evaluator=Evaluator([MeanPrediction()]),
        val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters, val_interval=2),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', by_epoch=False,
                            interval=2)),
        custom_hooks=hooks,
        randomness=dict(seed=5),
        default_scope='mmengine',
        experiment_name=f'rng_{work_dir.name}_{max_iters}_{len(hooks)}',
        **kwargs)


def _straight_and_resumed(tmp_path, hooks):
    straight = _runner(tmp_path / 'straight', 4, hooks)
    straight.train()
    _runner(tmp_path / 'killed', 2, hooks).train()
    resumed = _runner(
        tmp_path / 'killed',
        4,
        hooks,
        resume=True,
        load_from=str(tmp_path / 'killed' / 'iter_2.pth'))
    resumed.train()
    return straight.model.state_dict(), resumed.model.state_dict()


def test_resumed_run_equals_the_uninterrupted_one(tmp_path):
    a, b = _straight_and_resumed(tmp_path, [dict(type='RandomStateHook')])
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=0, msg=key)
    saved = torch.load(tmp_path / 'killed' / 'iter_2.pth')[STATE_KEY]
    assert set(saved) >= {'python', 'numpy', 'torch'}


def test_without_the_hook_dropout_differs(tmp_path):
    """mmengine alone: the test above can fail."""
    a, b = _straight_and_resumed(tmp_path, [])
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_state_round_trip():
    state = get_random_state()
    expected = (random.random(), np.random.rand(), torch.rand(1))
    set_random_state(state)
    assert (random.random(), np.random.rand()) == expected[:2]
    assert torch.equal(torch.rand(1), expected[2])


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_state_round_trip():
    torch.zeros(1, device='cuda')
    state = get_random_state()
    expected = torch.rand(3, device='cuda')
    assert set_random_state(state, ('cuda', )) == ('cuda', )
    assert torch.equal(torch.rand(3, device='cuda'), expected)
