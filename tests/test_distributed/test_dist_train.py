"""Distributed training of the CN demo on the CPU: torchrun, gloo, 2 ranks.

The CN demo config (CN over SyncBN, DomainBalancedSampler slicing each step
by rank) at tiny size, trained through ``tools/dist_train.sh`` (torchrun,
``tools/train.py --launcher pytorch``) with ``env_cfg.dist_cfg.backend=gloo``;
rank 0's checkpoint then resumes in a 2-process and in a 1-process run (the
latter with CN's SyncBN acting as plain per-domain BN). Every rank saves its
final state (``rank_state_hook``), so the test sees what each rank holds.
"""
import os
import os.path as osp
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch

from tests.processes import TOOLS
from tests.test_tools.tiny_demo import make_data, tiny_config

HERE = osp.dirname(osp.abspath(__file__))
TIMEOUT = 240
MAX_ITERS = 4
EXTRA = """
custom_imports = dict(imports=['cn_seg', 'rank_state_hook'],
                      allow_failed_imports=False)
custom_hooks = _base_.custom_hooks + [dict(type='SaveRankStateHook')]
"""


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def _start(args, cwd, log, procs=None):
    """Start ``tools/train.py``, through ``tools/dist_train.sh`` if ``procs``."""
    env = dict(
        os.environ,
        CUDA_VISIBLE_DEVICES='',
        OMP_NUM_THREADS='1',
        PYTHON=sys.executable,
        PYTHONPATH=os.pathsep.join([HERE,
                                    os.environ.get('PYTHONPATH', '')]))
    if procs:
        env['PORT'] = _free_port()
        argv = [
            'bash',
            osp.join(TOOLS, 'dist_train.sh'), args[0],
            str(procs), *args[1:], '--cfg-options',
            'env_cfg.dist_cfg.backend=gloo'
        ]
    else:
        argv = [sys.executable, osp.join(TOOLS, 'train.py'), *args]
    out = open(log, 'w')
    # A session of its own, so that a timeout kills torchrun's ranks too.
    return subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True), out


def _wait(runs):
    """Wait for started runs; fail with their logs on error or timeout."""
    deadline = time.monotonic() + TIMEOUT
    failed = []
    for (proc, out), log in runs:
        try:
            code = proc.wait(timeout=max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            code = f'killed after {TIMEOUT} s'
        out.close()
        if code != 0:
            failed.append(f'{log} ({code}):\n{open(log).read()[-5000:]}')
    if failed:
        pytest.fail('\n'.join(failed))


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """A 2-rank run, then its iter-2 checkpoint resumed on 2 and 1 ranks."""
    root = tmp_path_factory.mktemp('dist_train')
    make_data(root, num_train=4, num_val=1)
    config = tiny_config(
        root, 'tiny_cn.py', max_iters=MAX_ITERS, val_interval=100, extra=EXTRA)

    _wait([(_start([config, '--work-dir', 'two'],
                   root,
                   root / 'two.log',
                   procs=2), root / 'two.log')])
    resume = ['--resume', str(root / 'two' / 'iter_2.pth')]
    _wait([(_start([config, '--work-dir', 'two_resumed', *resume],
                   root,
                   root / 'two_resumed.log',
                   procs=2), root / 'two_resumed.log'),
           (_start([config, '--work-dir', 'one_resumed', *resume], root,
                   root / 'one_resumed.log'), root / 'one_resumed.log')])
    return root


def _load(path):
    return torch.load(path, map_location='cpu')


def _assert_identical(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_two_ranks_end_with_identical_parameters_and_banks(runs):
    rank0 = _load(runs / 'two' / 'rank0_final.pth')
    rank1 = _load(runs / 'two' / 'rank1_final.pth')
    # Parameters (DDP) and every CN bank's running statistics (synchronized
    # per domain; DDP does not broadcast buffers) are the same on both ranks.
    _assert_identical(rank0, rank1)
    _assert_identical(
        rank0,
        _load(runs / 'two' / f'iter_{MAX_ITERS}.pth')['state_dict'])
    banks = [k for k in rank0 if k.endswith('running_mean')]
    assert banks and all(rank0[k].shape[0] == 2 for k in banks)
    stem = rank0['backbone.stem.1.num_batches_tracked']
    assert stem.tolist() == [MAX_ITERS, MAX_ITERS]  # both domains every step
    assert not torch.equal(rank0[banks[0]][0], rank0[banks[0]][1])


def test_rank0_checkpoint_resumes_in_two_processes(runs):
    log = (runs / 'two_resumed.log').read_text()
    assert f'Iter(train) [{MAX_ITERS}/{MAX_ITERS}]' in log
    assert f'Iter(train) [1/{MAX_ITERS}]' not in log  # went on from iter 2
    rank0 = _load(runs / 'two_resumed' / 'rank0_final.pth')
    _assert_identical(rank0, _load(runs / 'two_resumed' / 'rank1_final.pth'))
    # The same data order, banks and optimizer state as the straight run.
    straight = _load(runs / 'two' / 'rank0_final.pth')
    # float32, but both runs are 2 gloo processes on this machine with the
    # same batches: the same kernels and reduction order. They differ at
    # most by the order of gloo's sums over the iterations after the resume
    # (a few ulps); 1e-5 / 1e-6 leaves orders of margin on any CPU.
    for key, value in straight.items():
        torch.testing.assert_close(
            rank0[key], value, rtol=1e-5, atol=1e-6, msg=key)


def test_rank0_checkpoint_resumes_in_one_process(runs):
    log = (runs / 'one_resumed.log').read_text()
    assert f'Iter(train) [{MAX_ITERS}/{MAX_ITERS}]' in log
    assert f'Iter(train) [1/{MAX_ITERS}]' not in log
    checkpoint = _load(runs / 'one_resumed' / f'iter_{MAX_ITERS}.pth')
    assert checkpoint['meta']['iter'] == MAX_ITERS
    before = _load(runs / 'two' / 'iter_2.pth')['state_dict']
    after = checkpoint['state_dict']
    assert after.keys() == before.keys()
    stem = 'backbone.stem.1.num_batches_tracked'
    assert after[stem].tolist() == [MAX_ITERS, MAX_ITERS]
    assert all(
        torch.isfinite(v).all() for v in after.values()
        if v.is_floating_point())
