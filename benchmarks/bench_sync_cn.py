"""Synchronized CN across processes: one collective per layer vs one per domain.

Starts ``--procs`` gloo processes on this machine (one thread each) and times,
in one run on the same inputs, training-mode forward+backward of:

- ``sync CN``: CN over SyncBN; all domains' statistics in one ``all_reduce``
  forward and one backward;
- ``naive sync BN per domain``: each domain's slice through its own
  synchronized BN (the same kernel with one bank), concatenated: one
  ``all_reduce`` per domain each way, as with one SyncBatchNorm per domain;
- ``local CN (no sync)``: CN over BN, the floor without communication.

It also counts the ``all_reduce`` calls of one forward and one backward by
wrapping ``torch.distributed.all_reduce``. Prints rank 0's medians, ratios
to the synchronized CN, and the counts.

Usage:
    python benchmarks/bench_sync_cn.py [--procs 2] [--domains 2]
        [--batch 4] [--repeat 15] [--small]
"""
import argparse
import os
import tempfile
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from common import SHAPES, SMALL_SHAPES, machine, routed, time_steps

from cn_seg import ConsistentNorm
from cn_seg.models.norms.backends import BankState, domain_batch_norm
from cn_seg.models.routing import DomainRoute


def naive_per_domain(cn, x, segments):
    """One synchronized single-bank BN call (and collective) per domain."""
    outs = []
    for k in range(cn.num_domains):  # every rank calls every domain's BN
        start, end = segments.get(k, (0, 0))
        bank = slice(k, k + 1)
        state = BankState(cn.weight[bank], cn.bias[bank],
                          cn.running_mean[bank], cn.running_var[bank],
                          cn.num_batches_tracked[bank], cn.momentum, cn.eps, 1,
                          True)
        outs.append(
            domain_batch_norm(
                x[start:end],
                DomainRoute([0] * (end - start)),
                state,
                synchronized=True))
    return torch.cat(outs)


def variants(c, domain_idx):
    t = max(domain_idx) + 1
    sync = ConsistentNorm(c, num_domains=t, norm_cfg=dict(type='SyncBN'))
    naive = ConsistentNorm(c, num_domains=t, norm_cfg=dict(type='SyncBN'))
    local = ConsistentNorm(c, num_domains=t, norm_cfg=dict(type='BN'))
    segments = {
        k: (domain_idx.index(k), len(domain_idx) - domain_idx[::-1].index(k))
        for k in set(domain_idx)
    }
    return {
        'sync CN': lambda x: routed(sync, x, domain_idx),
        'naive sync BN per domain':
        lambda x: naive_per_domain(naive, x, segments),
        'local CN (no sync)': lambda x: routed(local, x, domain_idx),
    }


def count_all_reduce(fn, x, grad):
    """``all_reduce`` calls in one forward and in one backward of ``fn``."""
    calls = []
    original = dist.all_reduce

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    dist.all_reduce = counting
    try:
        out = fn(x)
        forward = len(calls)
        out.backward(grad)
    finally:
        dist.all_reduce = original
    return forward, len(calls) - forward


def worker(rank, args, store):
    torch.set_num_threads(1)
    dist.init_process_group(
        'gloo',
        init_method=f'file://{store}',
        rank=rank,
        world_size=args.procs,
        timeout=timedelta(seconds=120))
    t, n = args.domains, args.batch
    domain_idx = [i * t // n for i in range(n)]  # domain-major, as sampled
    if rank == 0:
        print(f'{machine()}; {args.procs} gloo processes x 1 thread, '
              f'batch {n} per rank, '
              f'{t} domains {domain_idx} per rank, float32, repeat '
              f'{args.repeat}')
    for c, h, w in SMALL_SHAPES if args.small else SHAPES:
        torch.manual_seed(rank)
        x = torch.randn(n, c, h, w, requires_grad=True)
        grad = torch.randn(n, c, h, w)
        fns = variants(c, domain_idx)
        counts = {
            name: count_all_reduce(fn, x, grad)
            for name, fn in fns.items()
        }
        results = time_steps(fns, x, grad, args.repeat, x.device)
        if rank == 0:
            base = results['sync CN']
            print(f'\nshape {n}x{c}x{h}x{w} per rank')
            print(f'  {"variant":<26}{"median ms":>10}{"ratio":>8}'
                  f'{"all_reduce fwd/bwd":>20}')
            for name, sec in results.items():
                fwd, bwd = counts[name]
                print(f'  {name:<26}{sec * 1e3:>10.2f}{sec / base:>7.2f}x'
                      f'{fwd:>15}/{bwd}')
    dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--procs', type=int, default=2)
    parser.add_argument('--domains', type=int, default=2)
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--repeat', type=int, default=15)
    parser.add_argument(
        '--small',
        action='store_true',
        help='latency-bound shapes (1/16 of the pixels)')
    args = parser.parse_args()
    os.environ['OMP_NUM_THREADS'] = '1'
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(
            worker, args=(args, os.path.join(tmp, 'store')), nprocs=args.procs)


if __name__ == '__main__':
    main()
