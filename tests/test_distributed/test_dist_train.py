"""Distributed training of the CN demo on the CPU: torchrun, gloo, 2 ranks.

The CN demo config (CN over SyncBN, DomainBalancedSampler slicing each step
by rank) at tiny size, trained through ``torchrun`` and ``tools/train.py
--launcher pytorch`` with ``env_cfg.dist_cfg.backend=gloo``; rank 0's
checkpoint then resumes in a 2-process and in a 1-process run (the latter
with CN's SyncBN acting as plain per-domain BN). Every rank saves its final
state (``rank_state_hook``), so the test sees what each rank holds. The
ranks go through ``cpu_dist_train.py``, which starts the gloo group that
mmengine's ``init_dist`` cannot start on a CPU-only torch build.
"""
import os
import os.path as osp
import subprocess
import sys
import time

import pytest
import torch

from cn_seg.datasets.converters import cityscapes as cityscapes_converter
from cn_seg.datasets.converters import gta5 as gta5_converter
from cn_seg.datasets.synthetic.domains import main as make_domains

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
CN_DEMO = osp.join(
    REPO, 'configs', 'demo',
    'cn_deeplabv3_r18-d8_1xb4-400_synthetic-cs+gta5-64x128.py')
TIMEOUT = 240
MAX_ITERS = 4
TINY = f"""
custom_imports = dict(imports=['cn_seg', 'rank_state_hook'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='DomainRoutingHook'), dict(type='SaveRankStateHook')]
train_cfg = dict(max_iters={MAX_ITERS}, val_interval=100)
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0,
                        end={MAX_ITERS}, by_epoch=False)]
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=2, max_keep_ckpts=-1))
model = dict(decode_head=dict(dropout_ratio=0.0),
             auxiliary_head=dict(dropout_ratio=0.0))
train_dataloader = dict(num_workers=0, persistent_workers=False)
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = val_dataloader
"""
# gloo; and DDP on CPU modules takes no device_ids (mmengine passes LOCAL_RANK)
DIST_OPTIONS = ['--cfg-options', 'env_cfg.dist_cfg.backend=gloo',
                'model_wrapper_cfg.type=MMDistributedDataParallel',
                'model_wrapper_cfg.device_ids=None']


def _start(args, cwd, log, procs=None):
    """Start ``tools/train.py`` (under torchrun when ``procs`` is given)."""
    if procs:
        argv = [sys.executable, '-m', 'torch.distributed.run', '--standalone',
                f'--nproc_per_node={procs}',
                osp.join(HERE, 'cpu_dist_train.py'), *args,
                '--launcher', 'pytorch', *DIST_OPTIONS]
    else:
        argv = [sys.executable, osp.join(REPO, 'tools', 'train.py'), *args]
    env = dict(os.environ, CUDA_VISIBLE_DEVICES='', OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([HERE, REPO,
                                           os.environ.get('PYTHONPATH', '')]))
    out = open(log, 'w')
    return subprocess.Popen(argv, cwd=cwd, env=env, stdout=out,
                            stderr=subprocess.STDOUT), out


def _wait(runs):
    """Wait for started runs; fail with their logs on error or timeout."""
    deadline = time.monotonic() + TIMEOUT
    failed = []
    for (proc, out), log in runs:
        try:
            code = proc.wait(timeout=max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            proc.kill()
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
    data = root / 'data' / 'synthetic'
    assert make_domains(['--out', str(data), '--num-train', '4',
                         '--num-val', '1']) == 0
    assert cityscapes_converter.main([str(data / 'cityscapes')]) == 0
    assert gta5_converter.main([str(data / 'gta5')]) == 0
    config = root / 'tiny_cn.py'
    config.write_text(f'_base_ = [{CN_DEMO!r}]\n{TINY}')

    _wait([(_start([str(config), '--work-dir', 'two'], root,
                   root / 'two.log', procs=2), root / 'two.log')])
    resume = ['--resume', str(root / 'two' / 'iter_2.pth')]
    _wait([(_start([str(config), '--work-dir', 'two_resumed', *resume], root,
                   root / 'two_resumed.log', procs=2),
            root / 'two_resumed.log'),
           (_start([str(config), '--work-dir', 'one_resumed', *resume], root,
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
    _assert_identical(rank0, _load(runs / 'two' /
                                   f'iter_{MAX_ITERS}.pth')['state_dict'])
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
    for key, value in straight.items():
        torch.testing.assert_close(rank0[key], value, rtol=1e-5, atol=1e-6,
                                   msg=key)


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
    assert all(torch.isfinite(v).all() for v in after.values()
               if v.is_floating_point())
