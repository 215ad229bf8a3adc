"""Every norm layer shape of DeepLabV3-R50-D8: CN (2 and 4 domains) vs BN.

Times training-mode forward + backward of ``nn.BatchNorm2d`` and of CN
(each domain's samples together, the backend ``auto`` picks: Triton on
CUDA) at each distinct norm-layer input shape of the real model (with its
auxiliary head, ``r50_shapes.py``), in each dtype and memory layout asked
for, interleaved round by round. Also prints the first call of each (dtype,
layout) on a fresh process's kernels: the Triton compile time at first use.

Usage:
    python benchmarks/bench_r50_layers.py [--device cuda] [--batch 2]
        [--height 512] [--width 1024] [--dtypes float32 bfloat16]
        [--layouts contiguous channels_last] [--repeat 20]

On the CPU at tiny sizes (``--height 32 --width 64``) it checks that the
script runs (``benchmarks/gpu.sh --self-check``); CPU times say nothing
about a GPU.
"""
import argparse
import time

import torch
from common import machine, routed, synchronize, time_steps
from r50_shapes import norm_input_shapes
from torch import nn

from cn_seg import ConsistentNorm

DTYPES = {
    'float32': torch.float32,
    'bfloat16': torch.bfloat16,
    'float16': torch.float16
}
LAYOUTS = {
    'contiguous': torch.contiguous_format,
    'channels_last': torch.channels_last
}


def variants(c, n, device, domains):
    """``name -> callable(x)``: BN, then CN with each number of domains."""
    bn = nn.BatchNorm2d(c).to(device).train()
    out = {'BN': bn}
    for t in domains:
        cn = ConsistentNorm(c, num_domains=t).to(device).train()
        idx = (torch.arange(n) * t // n).tolist()
        out[f'CN t={t}'] = lambda x, cn=cn, idx=idx: routed(cn, x, idx)
    return out


def _fewest(n, t):
    """Samples of the smallest domain present among ``n`` split in ``t``."""
    counts = torch.bincount(torch.arange(n) * t // n, minlength=t)
    return int(counts[counts > 0].min())


def first_use(device, dtype, layout, shape, t):
    """Seconds of the first CN forward + backward in this (dtype, layout)
    and of the second: the difference is compiling the kernels."""
    n, c = shape[:2]
    x = torch.randn(
        shape, device=device,
        dtype=dtype).to(memory_format=layout).requires_grad_()
    cn = ConsistentNorm(c, num_domains=t).to(device).train()
    idx = (torch.arange(n) * t // n).tolist()
    times = []
    for _ in range(2):
        synchronize(device)
        start = time.perf_counter()
        routed(cn, x, idx).backward(torch.ones_like(x))
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--height', type=int, default=512)
    parser.add_argument('--width', type=int, default=1024)
    parser.add_argument(
        '--dtypes',
        nargs='+',
        default=['float32', 'bfloat16'],
        choices=list(DTYPES))
    parser.add_argument(
        '--layouts', nargs='+', choices=list(LAYOUTS), default=list(LAYOUTS))
    parser.add_argument('--domains', type=int, nargs='+', default=[2, 4])
    parser.add_argument('--repeat', type=int, default=20)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda but torch sees no CUDA device '
                     f'(torch {torch.__version__}); run on a GPU machine or '
                     'pass --device cpu for a functional check.')
    torch.set_num_threads(args.threads)
    shapes = sorted(
        {
            shape
            for _, shape in norm_input_shapes(args.batch, args.height,
                                              args.width)
        },
        key=lambda s: (s[1], -s[2]))
    # A bank with one value per channel is refused in training (as BN
    # refuses a batch of one 1x1 map): ASPP's image pool with one image per
    # domain.
    skipped = [
        s for s in shapes if any(
            _fewest(s[0], t) * s[2] * s[3] < 2 for t in args.domains)
    ]
    shapes = [s for s in shapes if s not in skipped]
    gpu = torch.cuda.get_device_name(device) if device.type == 'cuda' \
        else ''
    print(f'{machine()}; device={device} {gpu}; batch {args.batch} of '
          f'{args.height}x{args.width}; '
          f'{len(shapes)} distinct norm-layer shapes; repeat={args.repeat}')
    if skipped:
        print(f'skipped {skipped}: with {max(args.domains)} domains a bank '
              'gets one value per channel (refused in training, as by BN)')
    print('\nfirst use (Triton compiles its kernels for each dtype, layout '
          'and tile configuration):')
    for dtype in args.dtypes:
        for layout in args.layouts:
            first, second = first_use(device, DTYPES[dtype], LAYOUTS[layout],
                                      shapes[0], args.domains[0])
            print(f'  {dtype:<9} {layout:<14} first call {first:8.3f} s, '
                  f'second {second:8.4f} s')
    worst = {}
    for dtype in args.dtypes:
        for layout in args.layouts:
            print(f'\n{dtype}, {layout}: median ms of forward + backward, '
                  'ratio to BN')
            names = ['BN'] + [f'CN t={t}' for t in args.domains]
            print(f'  {"N x C x H x W":<22}' + ''.join(f'{n:>12}{"ratio":>8}'
                                                       for n in names))
            for shape in shapes:
                x = torch.randn(shape, device=device, dtype=DTYPES[dtype])
                x = x.to(memory_format=LAYOUTS[layout]).requires_grad_()
                grad = torch.randn_like(x)
                fns = variants(shape[1], shape[0], device, args.domains)
                times = time_steps(fns, x, grad, args.repeat, device)
                row = f'  {"x".join(map(str, shape)):<22}'
                for name in names:
                    ratio = times[name] / times['BN']
                    row += f'{times[name] * 1e3:>12.3f}{ratio:>7.2f}x'
                    if name != 'BN':
                        worst[dtype, layout, name] = max(
                            worst.get((dtype, layout, name), 0), ratio)
                print(row)
    print('\nworst ratio to BN over the shapes:')
    for (dtype, layout, name), ratio in worst.items():
        print(f'  {dtype:<9} {layout:<14} {name:<8} {ratio:6.2f}x')


if __name__ == '__main__':
    main()
