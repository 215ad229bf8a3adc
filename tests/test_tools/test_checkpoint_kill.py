"""A kill while a checkpoint is written leaves the previous one to resume.

``tools/train.py`` on the tiny CN demo with ``max_keep_ckpts=1``: the write
of the second checkpoint stalls half-way (``StallDuringSaveHook``) and the
process is killed with SIGKILL. mmengine's CheckpointHook would have
deleted the first checkpoint before writing; the tools' hook keeps it,
``last_checkpoint`` names it, and ``--resume`` finishes the run.
"""
import os.path as osp
import signal

import torch

from ..processes import TOOLS, kill_when_stalled, run_python
from .tiny_demo import DEMO_CN, make_data, tiny_config

#: The folder of ``stall_hook``, which the stalling config imports.
HERE = osp.dirname(osp.abspath(__file__))

STALL = """
custom_imports = dict(imports=['cn_seg', 'stall_hook'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='DomainRoutingHook'),
                dict(type='StallDuringSaveHook', at=4, marker='{marker}')]
default_hooks = dict(checkpoint=dict(interval=2, max_keep_ckpts=1))
"""


def test_kill_during_checkpoint_write_keeps_the_last_one(tmp_path):
    make_data(tmp_path, num_train=4, num_val=2)
    marker = tmp_path / 'stalled'
    stalling = tiny_config(tmp_path, 'stall.py', DEMO_CN, 4,
                           extra=STALL.format(marker=marker))
    train = osp.join(TOOLS, 'train.py')
    assert kill_when_stalled([train, stalling, '--work-dir', 'work'],
                             tmp_path, marker, [HERE]) == -signal.SIGKILL
    work = tmp_path / 'work'
    partial = marker.read_text()
    assert partial == str(work / 'iter_4.pth.partial')
    last = (work / 'last_checkpoint').read_text()
    assert last == str(work / 'iter_2.pth')
    assert torch.load(last)['meta']['iter'] == 2

    plain = tiny_config(tmp_path, 'plain.py', DEMO_CN, 4, extra="""
default_hooks = dict(checkpoint=dict(interval=2, max_keep_ckpts=1))
""")
    log = run_python([train, plain, '--work-dir', 'work', '--resume'],
                     tmp_path, 1)
    assert f'Removed {partial}' in log
    assert sorted(p.name for p in work.glob('*.pth*')) == ['iter_4.pth']
    assert torch.load(work / 'iter_4.pth')['meta']['iter'] == 4
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_4.pth')
