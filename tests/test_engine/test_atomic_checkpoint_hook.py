"""With max_keep_ckpts=1, a write cut short leaves the last checkpoint.

mmengine's Runner trains the toy model of test_safe_load; the write of the
second checkpoint stops half-way (the file backend writes half the bytes
and raises, what a kill leaves on disk). tests/test_tools/
test_checkpoint_kill.py does the same with SIGKILL through tools/train.py.
"""
import os

import pytest
import torch
from mmengine.fileio.backends import LocalBackend
from mmengine.runner import find_latest_checkpoint

from cn_seg.openmmlab.engine.hooks.atomic_checkpoint_hook import PARTIAL_SUFFIX
from .test_safe_load import _runner


class _Cut(Exception):
    pass


@pytest.fixture
def cut_second_write(monkeypatch):
    """LocalBackend.put writes half of the second checkpoint, then raises."""
    put = LocalBackend.put
    calls = []

    def half_put(self, obj, filepath):
        calls.append(filepath)
        if len(calls) == 2:
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
            raise _Cut(filepath)
        return put(self, obj, filepath)

    monkeypatch.setattr(LocalBackend, 'put', half_put)
    return calls


def _train_until_cut(work_dir, hook_type):
    runner = _runner(
        work_dir,
        max_iters=4,
        default_hooks=dict(
            checkpoint=dict(
                type=hook_type, by_epoch=False, interval=2, max_keep_ckpts=1)))
    with pytest.raises(_Cut):
        runner.train()


def test_previous_checkpoint_survives_and_resumes(tmp_path, cut_second_write,
                                                  monkeypatch):
    _train_until_cut(tmp_path, 'AtomicCheckpointHook')
    assert cut_second_write[1] == str(tmp_path / f'iter_4.pth{PARTIAL_SUFFIX}')
    latest = find_latest_checkpoint(str(tmp_path))
    assert latest == str(tmp_path / 'iter_2.pth')
    assert torch.load(latest)['meta']['iter'] == 2
    assert not (tmp_path / 'iter_4.pth').exists()

    monkeypatch.undo()  # the disk works again
    runner = _runner(
        tmp_path,
        max_iters=4,
        resume=True,
        default_hooks=dict(
            checkpoint=dict(
                type='AtomicCheckpointHook',
                by_epoch=False,
                interval=2,
                max_keep_ckpts=1)))
    runner.train()
    assert runner.iter == 4
    assert sorted(p for p in os.listdir(tmp_path) if '.pth' in p) == \
        ['iter_4.pth']  # the partial file is gone, iter_2 replaced
    assert find_latest_checkpoint(str(tmp_path)) == str(tmp_path /
                                                        'iter_4.pth')


def test_mmengine_hook_leaves_nothing_to_resume(tmp_path, cut_second_write):
    """What this hook fixes (and so the test above can fail)."""
    _train_until_cut(tmp_path, 'CheckpointHook')
    latest = find_latest_checkpoint(str(tmp_path))
    assert latest == str(tmp_path / 'iter_2.pth')
    assert not os.path.exists(latest)  # deleted before iter_4 was written
    with pytest.raises(Exception):
        torch.load(tmp_path / 'iter_4.pth')  # half a file
