"""A DeepLabV3-R50-D8 training step with BN vs CN: time and peak memory.

Builds mmseg's ``deeplabv3_r50-d8`` model with plain BN, with CN (2 banks,
the batch holding half its samples from each domain) on each CN backend that
runs here natively, and with a naive per-domain CN (index each domain's
samples, normalize, scatter back), and times full SGD training steps
(forward, losses incl. the auxiliary head, backward, update) interleaved in
one process. With ``--compile`` every model's forward is compiled with
``torch.compile`` (inductor) first, so compiled CN (which traces to ATen ops,
whatever the backend) is measured against compiled BN in the same run, and
the compile time of each model (its first two steps) is printed. Peak memory
of a step is measured for the second step (after the optimizer state
exists), as the peak of tensor bytes allocated during the step over those
before it: on CUDA with ``max_memory_allocated`` in this process, on the CPU
in a fresh child process per variant from the profiler's memory events (the
resident set size would measure glibc's caching, not the step). Prints
medians, ratios to BN, and the dispatches of one CN layer per step for each
backend.

Usage:
    python benchmarks/bench_train_step.py [--size 256 [WIDTH]] [--batch 4]
        [--repeat 5] [--threads 2] [--device cpu|cuda] [--depth 50]
        [--backends cpu aten] [--compile] [--compile-backend inductor]
        [--allocator reuse|default]

``--allocator``: see ``benchmarks/allocator.py`` (default ``reuse``).
``--depth 18`` swaps the backbone for ResNetV1c-18 (a quicker compile).
"""
import argparse
import json
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import time

import allocator
import torch
import torch.nn.functional as F
from common import (backend_available, count_dispatches, forced_backend,
                    machine, routed, synchronize)
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from r50_shapes import model_config
from torch.profiler import ProfilerActivity, profile

from cn_seg import enable_domain_routing
from cn_seg.models import BatchConsistentNorm
from cn_seg_workbench.oracles.reference import per_domain


@MODELS.register_module()
class NaiveDomainBN(BatchConsistentNorm):
    """CN computed DSBN-style: gather each domain, normalize, scatter back."""

    def _batch_stats(self, x, route):

        def norm(k, xs):
            return F.batch_norm(xs, self.running_mean[k], self.running_var[k],
                                self.weight[k], self.bias[k], True,
                                self.momentum, self.eps)

        return per_domain(x, route.on(x.device).domain_idx, norm)


def variant_names(backends, compiled=False):
    """BN, CN on each backend and, eager only, the naive per-domain CN (its
    data-dependent gather recompiles at every layer shape and trips an
    inductor code-generation error in torch 2.13, so it is not compiled).
    Compiled CN is one variant: it traces to ATen ops on any backend."""
    if compiled:
        return ['BN', 'CN']
    return ['BN'] + [f'CN [{b}]' for b in backends] + ['naive per-domain CN']


def _norm_cfg(variant):
    if variant == 'BN':
        return dict(type='BN', requires_grad=True)
    kind = 'NaiveDomainBN' if variant.startswith('naive') else 'CN'
    return dict(type=kind, num_domains=2, norm_cfg=dict(type='BN'))


def _backend(variant):
    return variant[4:-1] if variant.startswith('CN [') else None


def build(variant, args, device):
    """The model (compiled with ``--compile``) and an optimizer."""
    cfg = model_config(_norm_cfg(variant), args.depth)
    cfg.model.data_preprocessor.size = _hw(args)
    model = enable_domain_routing(MODELS.build(cfg.model)).to(device).train()
    optim = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    if args.compile:
        model = torch.compile(model, backend=args.compile_backend)
    return model, optim


def _hw(args):
    """``(height, width)`` from ``--size H [W]``."""
    return (args.size[0], args.size[-1])


def batch(n, hw, device):
    """Random images and labels; the first half domain 0, the rest domain 1."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, *hw, generator=g).to(device)
    samples = []
    for i in range(n):
        s = SegDataSample(
            metainfo=dict(
                img_shape=hw,
                pad_shape=hw,
                ori_shape=hw,
                domain_idx=int(i >= n // 2)))
        s.gt_sem_seg = PixelData(
            data=torch.randint(0, 19, (1, *hw), generator=g).to(device))
        samples.append(s)
    return x, samples


def step(model, optim, x, samples):
    losses = model(x, samples, mode='loss')
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    optim.zero_grad()
    loss.backward()
    optim.step()


def layer_dispatches(backends, device):
    """Dispatches of one CN layer per training step, by backend."""
    from cn_seg import ConsistentNorm
    x = torch.randn(4, 8, 4, 4, device=device, requires_grad=True)
    out = {}
    for b in backends:
        cn = ConsistentNorm(8, num_domains=2).to(device)
        out[b] = count_dispatches(
            lambda x, cn=cn: routed(cn, x, [0, 0, 1, 1]),
            cn,
            x,
            torch.ones_like(x),
            b)
    return out


def cuda_peak(model, optim, x, samples):
    """Peak MiB a CUDA training step allocates over what exists before it
    (call after a first step: the optimizer state exists)."""
    synchronize(x.device)
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    step(model, optim, x, samples)
    synchronize(x.device)
    return (torch.cuda.max_memory_allocated() - base) / 2**20


def measure_memory(variant, args):
    """Peak memory of one CPU training step, in MiB (in a child process)."""
    device = torch.device(args.device)
    model, optim = build(variant, args, device)
    x, samples = batch(args.batch, _hw(args), device)
    step(model, optim, x, samples)  # optimizer state exists from here on
    # The CPU has no allocator statistics: the profiler's memory events carry
    # the running total of tensor bytes allocated since it started.
    with profile(
            activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step(model, optim, x, samples)
    with tempfile.TemporaryDirectory() as tmp:
        trace = osp.join(tmp, 'trace.json')
        prof.export_chrome_trace(trace)
        with open(trace) as f:
            events = json.load(f)['traceEvents']
    return max(e['args']['Total Allocated']
               for e in events if e.get('name') == '[memory]') / 2**20


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--size',
        type=int,
        nargs='+',
        default=[256],
        help='image height [and width] (default 256)')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--depth', type=int, default=50, choices=[18, 50])
    parser.add_argument(
        '--backends',
        nargs='+',
        help='CN backends to time (default: the native '
        'ones of the device)')
    parser.add_argument(
        '--compile',
        action='store_true',
        help='torch.compile every model (inductor)')
    parser.add_argument(
        '--compile-backend',
        default='inductor',
        help='torch.compile backend (aot_eager: a quick '
        'functional check)')
    parser.add_argument(
        '--skip-memory',
        action='store_true',
        help='no peak-memory measurement (a quick '
        'functional check on the CPU)')
    parser.add_argument('--memory-of', help=argparse.SUPPRESS)
    allocator.add_argument(parser)
    args = parser.parse_args()
    if len(args.size) > 2:
        parser.error(f'--size takes a height and a width, got {args.size}')
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        parser.error('--device cuda but torch sees no CUDA device; run on a '
                     'GPU machine or pass --device cpu.')
    allocator.apply(args.allocator)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    backends = args.backends or (['cpu'] if device.type == 'cpu' else
                                 ['triton', 'aten'])
    for name in backends:
        reason = backend_available(name, device)
        if reason:
            parser.error(f'backend {name} cannot run on {device}: {reason}')
    if args.memory_of:
        with forced_backend(_backend(args.memory_of)):
            print(json.dumps(measure_memory(args.memory_of, args)))
        return
    variants = variant_names(backends, args.compile)
    h, w = _hw(args)
    mode = f'compiled ({args.compile_backend})' if args.compile else 'eager'
    print(f'DeepLabV3-R{args.depth}-D8 training step, {args.batch} images of '
          f'{h}x{w}, device={device}, {mode}; {machine()}; '
          f'{allocator.describe()}')
    runs = {v: build(v, args, device) for v in variants}
    x, samples = batch(args.batch, (h, w), device)
    times = {v: [] for v in variants}
    warmup = {v: 0.0 for v in variants}
    memory = {}
    start_all = time.perf_counter()
    for i in range(args.repeat + 2):  # rounds 0 and 1 warm up (compile)
        for v, (model, optim) in runs.items():
            with forced_backend(_backend(v)):
                synchronize(device)
                start = time.perf_counter()
                step(model, optim, x, samples)
                synchronize(device)
                seconds = time.perf_counter() - start
                if i == 1 and device.type == 'cuda':
                    memory[v] = cuda_peak(model, optim, x, samples)
            if i >= 2:
                times[v].append(seconds)
            else:
                warmup[v] += seconds
    del runs
    for v in variants if device.type == 'cpu' and not args.skip_memory \
            else []:
        out = subprocess.run(
            [sys.executable, __file__, '--memory-of', v] + sys.argv[1:],
            check=True,
            capture_output=True,
            text=True).stdout
        memory[v] = json.loads(out.strip().splitlines()[-1])
    counts = layer_dispatches(backends, device)
    t_bn = statistics.median(times['BN'])
    m_bn = memory.get('BN', float('nan'))
    print(f'{"variant":<22}{"step s":>9}{"ratio":>8}{"peak MiB":>11}'
          f'{"ratio":>8}{"layer dispatches":>18}')
    for v in variants:
        t = statistics.median(times[v])
        count = counts.get(_backend(v), '')
        m = memory.get(v, float('nan'))
        print(f'{v:<22}{t:>9.3f}{t / t_bn:>7.2f}x{m:>11.0f}'
              f'{m / m_bn:>7.2f}x{count:>18}')
    print(f'(all rounds took {time.perf_counter() - start_all:.0f} s)')
    print('first two steps minus two timed ones (compilation, caches): ' +
          ', '.join(f'{v} {warmup[v] - 2 * statistics.median(times[v]):.1f} s'
                    for v in variants))


if __name__ == '__main__':
    main()
