"""Training-mode forward+backward of one norm layer: CN vs plain BatchNorm.

Measures, in one run on the same inputs, plain ``nn.BatchNorm2d`` over the
whole batch (the floor: CN reads and writes the same data), CN with 2 and 4
domains and with the domains interleaved, on each CN backend that runs here
natively (``cpu`` and ``aten`` on the CPU, ``triton`` and ``aten`` on CUDA),
a naive per-domain loop (DSBN style: index, normalize, scatter back) and
split-and-concatenate (timm ``SplitBatchNorm2d`` style), at the shapes of
ResNet-50's stages. Prints medians, ratios to plain BN, and the dispatches
of each variant per step (ATen ops plus Triton launches, counted on a small
input: the count does not depend on the size).

Usage:
    python benchmarks/bench_cn_layer.py [--threads 2] [--repeat 15]
        [--device cpu|cuda] [--batch 8] [--backends cpu aten]
        [--small] [--counts-only] [--allocator reuse|default]

``--backends triton`` on the CPU needs ``TRITON_INTERPRET=1`` and times
Triton's interpreter, which says nothing about a GPU; its dispatch count is
what a GPU would launch. ``--allocator``: see ``benchmarks/allocator.py``.
"""
import argparse

import allocator
import torch
from common import (SHAPES, SMALL_SHAPES, backend_available, count_dispatches,
                    machine, naive_per_domain, routed, time_steps)
from torch import nn

from cn_seg import ConsistentNorm


class SplitConcat(nn.Module):
    """Equal contiguous chunks, one BN each, ``torch.cat``."""

    def __init__(self, c, t):
        super().__init__()
        self.bns = nn.ModuleList(nn.BatchNorm2d(c) for _ in range(t))

    def forward(self, x):
        chunks = x.chunk(len(self.bns))
        return torch.cat([bn(c) for bn, c in zip(self.bns, chunks)])


def variants(c, n, device, backends):
    """``name -> (callable(x), module, backend)`` for every approach."""
    bn = nn.BatchNorm2d(c).to(device)
    out = {'plain BN (whole batch)': (bn, bn, None)}
    layouts = [('2 domains', 2, torch.arange(n) * 2 // n),
               ('4 domains', 4, torch.arange(n) * 4 // n),
               ('2 domains interleaved', 2, torch.arange(n) % 2)]
    for backend in backends:
        for label, t, idx in layouts:
            cn = ConsistentNorm(c, num_domains=t).to(device)
            out[f'CN {label} [{backend}]'] = (
                lambda x, cn=cn, idx=idx: routed(cn, x, idx), cn, backend)
    naive_cn = ConsistentNorm(c, num_domains=2).to(device)
    naive = naive_per_domain(naive_cn)
    grouped = (torch.arange(n) * 2 // n).to(device)
    out['naive per-domain loop (DSBN)'] = (lambda x: naive(x, grouped),
                                           naive_cn, None)
    split = SplitConcat(c, 2).to(device)
    out['split + concatenate (timm)'] = (split, split, None)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--repeat', type=int, default=15)
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--backends',
        nargs='+',
        help='CN backends to time (default: the native '
        'ones of the device)')
    parser.add_argument(
        '--small',
        action='store_true',
        help='latency-bound shapes (1/16 of the pixels)')
    parser.add_argument(
        '--counts-only',
        action='store_true',
        help='print the dispatch counts of every backend '
        'that can run here (Triton under TRITON_INTERPRET=1 '
        'on the CPU) and stop')
    allocator.add_argument(parser)
    args = parser.parse_args()
    allocator.apply(args.allocator)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    backends = args.backends or (['cpu', 'aten'] if device.type == 'cpu' else
                                 ['triton', 'aten'])
    if args.counts_only:
        backends = [
            b for b in ('cpu', 'triton', 'aten')
            if backend_available(b, device) is None
        ]
    for name in backends:
        reason = backend_available(name, device)
        if reason:
            parser.error(f'backend {name} cannot run on {device}: {reason}')
    print(f'{machine()}; device={device} repeat={args.repeat} float32 '
          f'{allocator.describe()}')
    probe = torch.randn(args.batch, 8, 4, 4, device=device, requires_grad=True)
    counts = {
        name: count_dispatches(fn, module, probe, torch.ones_like(probe),
                               backend)
        for name, (
            fn, module,
            backend) in variants(8, args.batch, device, backends).items()
    }
    if args.counts_only:
        print('dispatches per training step (forward + backward):')
        for name, count in counts.items():
            print(f'  {name:<34}{count:>4}')
        return
    for c, h, w in SMALL_SHAPES if args.small else SHAPES:
        shape = (args.batch, c, h, w)
        x = torch.randn(shape, device=device, requires_grad=True)
        grad = torch.randn(shape, device=device)
        fns = variants(c, args.batch, device, backends)
        results = time_steps({
            k: v[0]
            for k, v in fns.items()
        }, x, grad, args.repeat, device, {
            k: v[2]
            for k, v in fns.items()
        })
        floor = results['plain BN (whole batch)']
        print(f'\nshape {"x".join(map(str, shape))}')
        print(f'  {"variant":<34}{"median ms":>11}{"ratio":>8}'
              f'{"dispatches":>12}')
        for name, sec in results.items():
            print(f'  {name:<34}{sec * 1e3:>11.2f}{sec / floor:>7.2f}x'
                  f'{counts[name]:>12}')


if __name__ == '__main__':
    main()
