"""Training-mode forward+backward of one norm layer: CN vs plain BatchNorm.

Measures, in one run on the same inputs, plain ``nn.BatchNorm2d`` over the
whole batch (the floor: CN reads and writes the same data), CN with 2 and 4
domains, a naive per-domain loop (DSBN style: index, normalize, scatter back)
and split-and-concatenate (timm ``SplitBatchNorm2d`` style), at the shapes of
ResNet-50's stages. Prints medians and ratios to plain BN.

Usage:
    python benchmarks/bench_cn_layer.py [--threads 2] [--repeat 15]
        [--device cpu|cuda] [--batch 8] [--allocator reuse|default]

``--allocator``: see ``benchmarks/allocator.py`` (default ``reuse``: every
variant reuses freed memory, so page faults of fresh allocations do not
decide the ratios).
"""
import argparse
import statistics
import time

import torch
from torch import nn

import allocator
from cn_seg import ConsistentNorm, domain_routing

SHAPES = [(64, 128, 128), (256, 64, 64), (2048, 32, 32)]


class NaiveLoop(nn.Module):
    """Index each domain's samples, normalize with its BN, scatter back."""

    def __init__(self, c, t):
        super().__init__()
        self.bns = nn.ModuleList(nn.BatchNorm2d(c) for _ in range(t))

    def forward(self, x, idx):
        out = torch.empty_like(x)
        for k, bn in enumerate(self.bns):
            sel = (idx == k).nonzero().flatten()
            out = out.index_copy(0, sel, bn(x.index_select(0, sel)))
        return out


class SplitConcat(nn.Module):
    """Equal contiguous chunks, one BN each, ``torch.cat``."""

    def __init__(self, c, t):
        super().__init__()
        self.bns = nn.ModuleList(nn.BatchNorm2d(c) for _ in range(t))

    def forward(self, x, idx):
        chunks = x.chunk(len(self.bns))
        return torch.cat([bn(c) for bn, c in zip(self.bns, chunks)])


def _sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize()


def time_steps(fns, x, grad, repeat, device):
    """Median seconds of forward+backward per variant, interleaved by round.

    Interleaving spreads any slow-down of a busy machine over all variants
    alike, so the ratios stay meaningful.
    """
    times = {name: [] for name in fns}
    for i in range(repeat + 2):  # the first two rounds warm up
        for name, fn in fns.items():
            x.grad = None
            _sync(device)
            start = time.perf_counter()
            fn(x).backward(grad)
            _sync(device)
            if i >= 2:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def variants(c, n, device):
    """name -> callable(x) for every approach, all on ``device``."""
    bn = nn.BatchNorm2d(c).to(device)
    out = {'plain BN (whole batch)': bn}
    for t in (2, 4):
        cn = ConsistentNorm(c, num_domains=t).to(device)
        grouped = torch.arange(n) * t // n  # domain-major, as the sampler
        out[f'CN {t} domains'] = lambda x, cn=cn, g=grouped: _routed(cn, x, g)
    cn2 = ConsistentNorm(c, num_domains=2).to(device)
    inter = torch.arange(n) % 2
    out['CN 2 domains, interleaved'] = lambda x: _routed(cn2, x, inter)
    naive = NaiveLoop(c, 2).to(device)
    idx = (torch.arange(n) * 2 // n).to(device)
    out['naive per-domain loop'] = lambda x: naive(x, idx)
    split = SplitConcat(c, 2).to(device)
    out['split + concatenate'] = lambda x: split(x, idx)
    return out


def _routed(cn, x, domain_idx):
    with domain_routing(cn, domain_idx):
        return cn(x)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--repeat', type=int, default=15)
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--device', default='cpu')
    allocator.add_argument(parser)
    args = parser.parse_args()
    allocator.apply(args.allocator)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f'device={device} threads={torch.get_num_threads()} '
          f'torch={torch.__version__} repeat={args.repeat} float32 '
          f'{allocator.describe()}')
    for c, h, w in SHAPES:
        shape = (args.batch, c, h, w)
        x = torch.randn(shape, device=device, requires_grad=True)
        grad = torch.randn(shape, device=device)
        results = time_steps(variants(c, args.batch, device), x, grad,
                             args.repeat, device)
        floor = results['plain BN (whole batch)']
        print(f'\nshape {"x".join(map(str, shape))}')
        print(f'  {"variant":<28}{"median ms":>11}{"ratio":>8}')
        for name, sec in results.items():
            print(f'  {name:<28}{sec * 1e3:>11.2f}{sec / floor:>8.2f}x')


if __name__ == '__main__':
    main()
