"""Resume checkpoints load with weights_only=True; malicious ones fail."""
import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner, load_checkpoint
from torch import nn
from torch.utils.data import Dataset

from cn_seg.openmmlab.engine import (checkpoint_safe_globals,
                                     register_checkpoint_safe_globals)


class ToyModel(BaseModel):
    """The smallest model mmengine's Runner trains."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, labels=None, mode='tensor'):
        out = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=((out - labels)**2).mean())
        return out


class ToyDataset(Dataset):
    metainfo = dict(classes=('a', 'b'), palette=[[0, 0, 0], [1, 1, 1]])

    def __len__(self):
        return 8

    def __getitem__(self, idx):
        return dict(
            inputs=torch.full((2, ), float(idx)),
            labels=torch.tensor([float(idx % 2)]))


def _runner(work_dir, max_iters, **kwargs):
    kwargs.setdefault(
        'default_hooks',
        dict(
            checkpoint=dict(type='CheckpointHook', by_epoch=False,
                            interval=2)))
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='InfiniteSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            batch_size=2),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        param_scheduler=dict(
            type='PolyLR', power=0.9, by_epoch=False, end=max_iters),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_scope='mmengine',
        experiment_name=f'toy_{os.path.basename(work_dir)}_{max_iters}',
        **kwargs)


@pytest.fixture(scope='module')
def resume_checkpoint(tmp_path_factory):
    """A checkpoint written by a real Runner after 2 iterations."""
    work_dir = tmp_path_factory.mktemp('toy')
    _runner(work_dir, max_iters=2).train()
    return work_dir, str(work_dir / 'iter_2.pth')


def test_checkpoint_needs_the_allow_list(resume_checkpoint):
    """Without the registration, torch refuses mmengine's checkpoint."""
    _, path = resume_checkpoint
    saved = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    try:
        with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
            torch.load(path)
    finally:
        torch.serialization.add_safe_globals(saved)
        register_checkpoint_safe_globals()


def test_runner_resumes_with_weights_only(resume_checkpoint):
    work_dir, path = resume_checkpoint
    reference = torch.load(path, weights_only=False)
    checkpoint = torch.load(path)  # weights_only=True, the torch default
    hub = checkpoint['message_hub']
    lr = hub['log_scalars']['train/lr']
    assert isinstance(lr, HistoryBuffer)
    reference_lr = reference['message_hub']['log_scalars']['train/lr']
    np.testing.assert_array_equal(lr.data[0], reference_lr.data[0])
    assert lr.mean() == reference_lr.mean()

    runner = _runner(work_dir, max_iters=4, resume=True, load_from=path)
    runner.train()
    assert runner.iter == 4
    # The resumed logs continue the two iterations of the first run.
    assert len(runner.message_hub.get_scalar('train/lr').data[0]) == 4


class _RunsShell:
    """Pickles as a call to os.system: the classic checkpoint exploit."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


class _ReachesPastHistoryBuffer:
    """Pickles as getattr(HistoryBuffer, '__init__'): not a statistic."""

    def __reduce__(self):
        return getattr, (HistoryBuffer, '__init__')


@pytest.mark.parametrize('payload, reason',
                         [('shell', 'system'),
                          ('getattr', r'getattr\(HistoryBuffer, <stat'),
                          ('object_array', 'ObjectDType')])
def test_malicious_checkpoint_is_refused(tmp_path, payload, reason):
    marker = tmp_path / 'pwned'
    meta = dict(
        shell=_RunsShell(marker),
        getattr=_ReachesPastHistoryBuffer(),
        object_array=np.array([1, 'x'], dtype=object))[payload]
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict=ToyModel().state_dict(), meta=meta), path)
    with pytest.raises(pickle.UnpicklingError, match=reason):
        load_checkpoint(ToyModel(), str(path), map_location='cpu')
    assert not marker.exists()


@pytest.mark.parametrize('version, module',
                         [('1.26.4', 'numpy.core.multiarray'),
                          ('2.0.0', 'numpy._core.multiarray'),
                          ('2.4.6', 'numpy._core.multiarray')])
def test_numpy_multiarray_module_per_version(version, module):
    """numpy 1.x has no numpy._core.multiarray (checked for real in a numpy
    1.26.4 environment, see the H3 report); 2.x deprecates numpy.core."""
    from cn_seg.openmmlab.engine.safe_load import _multiarray_name
    assert _multiarray_name(version) == module


def test_allow_list_names_both_numpy_pickle_names():
    """A checkpoint written under numpy 1.x names numpy.core, under 2.x
    numpy._core: both resolve to this numpy's functions."""
    from cn_seg.openmmlab.engine.safe_load import _multiarray
    names = {
        name: fn
        for fn, name in (g for g in checkpoint_safe_globals()
                         if isinstance(g, tuple))
    }
    for core in ('numpy.core', 'numpy._core'):
        assert names[f'{core}.multiarray._reconstruct'] is \
            _multiarray()._reconstruct
        assert names[f'{core}.multiarray.scalar'] is _multiarray().scalar


@pytest.mark.parametrize('version',
                         ['2.0.1', '2.4.1+cpu', '2.5.1+cu121', '1.13.1'])
def test_old_torch_is_refused_with_the_version_needed(version):
    from cn_seg.openmmlab.engine.safe_load import check_torch_version
    with pytest.raises(
            ImportError,
            match=r'needs torch>=2\.6, found torch ' +
            version.replace('+', r'\+')):
        check_torch_version(version)


@pytest.mark.parametrize('version',
                         ['2.6.0', '2.13.0+cpu', '2.7.0a0+git1', '3.0.0'])
def test_supported_torch_passes(version):
    from cn_seg.openmmlab.engine.safe_load import check_torch_version
    check_torch_version(version)
