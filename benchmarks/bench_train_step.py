"""A DeepLabV3-R50-D8 training step with BN vs CN: time and peak memory.

Builds mmseg's ``deeplabv3_r50-d8`` model three times, with plain BN, with CN
(2 banks, the batch holding 2 samples of each domain) and with a naive
per-domain CN (index each domain's samples, normalize, scatter back), and
times full SGD training steps (forward, losses incl. the auxiliary head,
backward, update) interleaved in one process. Peak memory of a step is
measured in a fresh child process per variant, for the second step (after
the optimizer state exists), as the peak of tensor bytes allocated during
the step over those before it: on CUDA with ``max_memory_allocated``, on the
CPU from the profiler's memory events (the resident set size would measure
glibc's caching, not the step). Prints medians and ratios to BN.

Usage:
    python benchmarks/bench_train_step.py [--size 256] [--batch 4]
        [--repeat 5] [--threads 2] [--device cpu|cuda]
        [--allocator reuse|default]

``--allocator``: see ``benchmarks/allocator.py`` (default ``reuse``).
"""
import argparse
import json
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch.profiler import ProfilerActivity, profile

import allocator
from cn_seg import ConsistentNorm, enable_domain_routing

BASE = 'mmseg::deeplabv3/deeplabv3_r50-d8_4xb2-80k_cityscapes-512x1024.py'
VARIANTS = ('BN', 'CN', 'NaiveDomainBN')


@MODELS.register_module()
class NaiveDomainBN(ConsistentNorm):
    """CN computed DSBN-style: gather each domain, normalize, scatter back."""

    def _batch_stats(self, x, route):
        idx = route.to('domain_idx', x.device)
        out = torch.empty_like(x)
        for k, _, _ in route.segments:
            sel = (idx == k).nonzero().flatten()
            y = F.batch_norm(x.index_select(0, sel), self.running_mean[k],
                             self.running_var[k], self.weight[k],
                             self.bias[k], True, self.momentum, self.eps)
            out = out.index_copy(0, sel, y)
        return out


def build(variant, size, device):
    """The model, an optimizer and one batch for ``variant``."""
    init_default_scope('mmseg')
    cfg = Config.fromstring(f"_base_ = ['{BASE}']", '.py')
    norm = dict(type='BN', requires_grad=True) if variant == 'BN' else \
        dict(type=variant, num_domains=2, norm_cfg=dict(type='BN'))
    for part in (cfg.model.backbone, cfg.model.decode_head,
                 cfg.model.auxiliary_head):
        part.norm_cfg = norm
    cfg.model.data_preprocessor.size = (size, size)
    model = enable_domain_routing(MODELS.build(cfg.model)).to(device).train()
    optim = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return model, optim


def batch(n, size, device):
    """Random images and labels; the first half domain 0, the rest domain 1."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, size, size, generator=g).to(device)
    samples = []
    for i in range(n):
        s = SegDataSample(metainfo=dict(
            img_shape=(size, size), pad_shape=(size, size),
            ori_shape=(size, size), domain_idx=int(i >= n // 2)))
        s.gt_sem_seg = PixelData(data=torch.randint(
            0, 19, (1, size, size), generator=g).to(device))
        samples.append(s)
    return x, samples


def step(model, optim, x, samples):
    losses = model(x, samples, mode='loss')
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    optim.zero_grad()
    loss.backward()
    optim.step()


def _sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize()


def measure_memory(variant, args):
    """Peak memory of one training step, in MiB (run in a child process)."""
    device = torch.device(args.device)
    model, optim = build(variant, args.size, device)
    x, samples = batch(args.batch, args.size, device)
    if device.type == 'cuda':
        step(model, optim, x, samples)  # optimizer state exists from here on
        _sync(device)
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step(model, optim, x, samples)
        _sync(device)
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    step(model, optim, x, samples)  # optimizer state exists from here on
    # The CPU has no allocator statistics: the profiler's memory events carry
    # the running total of tensor bytes allocated since it started.
    with profile(activities=[ProfilerActivity.CPU],
                 profile_memory=True) as prof:
        step(model, optim, x, samples)
    with tempfile.TemporaryDirectory() as tmp:
        trace = osp.join(tmp, 'trace.json')
        prof.export_chrome_trace(trace)
        with open(trace) as f:
            events = json.load(f)['traceEvents']
    return max(e['args']['Total Allocated'] for e in events
               if e.get('name') == '[memory]') / 2**20


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--memory-of', choices=VARIANTS,
                        help=argparse.SUPPRESS)
    allocator.add_argument(parser)
    args = parser.parse_args()
    allocator.apply(args.allocator)
    torch.set_num_threads(args.threads)
    if args.memory_of:
        print(json.dumps(measure_memory(args.memory_of, args)))
        return
    device = torch.device(args.device)
    print(f'DeepLabV3-R50-D8 training step, {args.batch} images of '
          f'{args.size}x{args.size}, device={device}, threads='
          f'{torch.get_num_threads()}, torch={torch.__version__}, '
          f'{allocator.describe()}')
    runs = {v: build(v, args.size, device) for v in VARIANTS}
    x, samples = batch(args.batch, args.size, device)
    times = {v: [] for v in VARIANTS}
    for i in range(args.repeat + 1):  # round 0 warms up
        for v, (model, optim) in runs.items():
            _sync(device)
            start = time.perf_counter()
            step(model, optim, x, samples)
            _sync(device)
            if i:
                times[v].append(time.perf_counter() - start)
    del runs
    memory = {}
    for v in VARIANTS:
        out = subprocess.run(
            [sys.executable, __file__, '--memory-of', v] + sys.argv[1:],
            check=True, capture_output=True, text=True).stdout
        memory[v] = json.loads(out.strip().splitlines()[-1])
    t_bn, m_bn = statistics.median(times['BN']), memory['BN']
    print(f'{"variant":<16}{"step s":>9}{"ratio":>8}{"peak MiB":>11}'
          f'{"ratio":>8}')
    for v in VARIANTS:
        t = statistics.median(times[v])
        print(f'{v:<16}{t:>9.3f}{t / t_bn:>7.2f}x{memory[v]:>11.0f}'
              f'{memory[v] / m_bn:>7.2f}x')


if __name__ == '__main__':
    main()
