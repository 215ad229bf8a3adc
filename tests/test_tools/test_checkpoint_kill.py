"""mmseg's own tools/train.py, killed while writing a checkpoint, resumes
to the uninterrupted run.

The tiny CN demo config carries cn_seg's hooks (``configs/_base_/
cn_runtime.py``), so mmseg's ``tools/train.py`` (from the installed mmseg
package, as ``mim train mmsegmentation`` runs it) writes checkpoints
atomically and saves the random states. With ``max_keep_ckpts=1`` the write
of the second checkpoint stalls half-way (``StallDuringSaveHook``) and the
process is killed with SIGKILL: mmengine's CheckpointHook would have deleted
the first checkpoint before writing; ``last_checkpoint`` names it, and
``--resume`` finishes the run with every tensor (weights, CN banks,
optimizer state, random states) equal to an uninterrupted run's.
"""
import os.path as osp
import signal

import mmseg
import numpy as np
import torch

from ..processes import finish, kill_when_stalled, start
from .tiny_demo import DEMO_CN, make_data, tiny_config

#: The folder of ``stall_hook``, which the stalling config imports.
HERE = osp.dirname(osp.abspath(__file__))

MMSEG_TRAIN = osp.join(
    osp.dirname(mmseg.__file__), '.mim', 'tools', 'train.py')
KEEP_ONE = """
default_hooks = dict(checkpoint=dict(interval=2, max_keep_ckpts=1))
"""
STALL = KEEP_ONE + """
custom_imports = dict(imports=['cn_seg', 'stall_hook'],
                      allow_failed_imports=False)
custom_hooks = _base_.custom_hooks + [
    dict(type='StallDuringSaveHook', at=4, marker='{marker}')]
"""


def test_kill_during_checkpoint_write_resumes_exactly(tmp_path):
    make_data(tmp_path, num_train=4, num_val=2)
    marker = tmp_path / 'stalled'
    stalling = tiny_config(
        tmp_path, 'stall.py', DEMO_CN, 4, extra=STALL.format(marker=marker))
    plain = tiny_config(tmp_path, 'plain.py', DEMO_CN, 4, extra=KEEP_ONE)
    straight = start([MMSEG_TRAIN, plain, '--work-dir', 'straight'], tmp_path,
                     1)
    assert kill_when_stalled([MMSEG_TRAIN, stalling, '--work-dir', 'work'],
                             tmp_path, marker, [HERE]) == -signal.SIGKILL
    work = tmp_path / 'work'
    partial = marker.read_text()
    assert partial == str(work / 'iter_4.pth.partial')
    last = (work / 'last_checkpoint').read_text()
    assert last == str(work / 'iter_2.pth')
    assert torch.load(last)['meta']['iter'] == 2

    log = finish(
        start([MMSEG_TRAIN, plain, '--work-dir', 'work', '--resume'], tmp_path,
              1))
    finish(straight)
    assert f'Removed {partial}' in log
    assert 'restored the random states of the interrupted run' in log
    assert sorted(p.name for p in work.glob('*.pth*')) == ['iter_4.pth']
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_4.pth')
    a = torch.load(tmp_path / 'straight' / 'iter_4.pth')
    b = torch.load(work / 'iter_4.pth')
    assert a['meta']['iter'] == b['meta']['iter'] == 4
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for key, value in a['state_dict'].items():
        torch.testing.assert_close(
            b['state_dict'][key], value, rtol=0, atol=0, msg=key)
    for key, value in a['optimizer']['state'].items():
        torch.testing.assert_close(
            b['optimizer']['state'][key]['momentum_buffer'],
            value['momentum_buffer'],
            rtol=0,
            atol=0)
    assert torch.equal(a['random_state']['torch'], b['random_state']['torch'])
    np.testing.assert_array_equal(a['random_state']['numpy'][1],
                                  b['random_state']['numpy'][1])
