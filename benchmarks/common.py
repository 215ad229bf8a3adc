"""What the benchmark scripts share: shapes, timing, counting, references.

The scripts run from the repository as ``python benchmarks/<script>.py``;
Python puts ``benchmarks/`` on the path, so they import this module and
``allocator`` directly.
"""
import os
import statistics
import time
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, Optional

import torch

from cn_seg import domain_routing
from cn_seg.models.norms.backends import why_unavailable
from cn_seg_workbench.analysis.machine import \
    describe_machine as machine  # noqa: F401
from cn_seg_workbench.oracles.launches import LaunchCounter
from cn_seg_workbench.oracles.reference import PerDomainNorm

#: ``(C, H, W)`` of ResNet-50's stages at a 512x512 input (output stride 8).
SHAPES = [(64, 128, 128), (256, 64, 64), (2048, 32, 32)]
#: The same channels at 1/16 of the pixels (latency-bound sizes).
SMALL_SHAPES = [(64, 32, 32), (256, 16, 16), (2048, 8, 8)]


def routed(layer: torch.nn.Module, x: torch.Tensor, domain_idx):
    """``layer(x)`` with sample ``i`` routed to bank ``domain_idx[i]``."""
    with domain_routing(layer, domain_idx):
        return layer(x)


def naive_per_domain(cn: torch.nn.Module) -> Callable:
    """The DSBN-style baseline: each domain's samples gathered, normalized
    by a plain layer holding its bank, and scattered back."""
    banks = PerDomainNorm.from_cn(cn)
    return lambda x, domain_idx: banks(x, domain_idx)


def backend_available(name: str, device: torch.device) -> Optional[str]:
    """Why backend ``name`` cannot run on ``device`` (None if it can)."""
    return why_unavailable(name, device)


@contextmanager
def forced_backend(name: Optional[str]) -> Iterator[None]:
    """Run CN layers on backend ``name`` (``CN_SEG_BACKEND``) in the block."""
    old = os.environ.get('CN_SEG_BACKEND')
    if name is not None:
        os.environ['CN_SEG_BACKEND'] = name
    try:
        yield
    finally:
        if old is None:
            os.environ.pop('CN_SEG_BACKEND', None)
        else:
            os.environ['CN_SEG_BACKEND'] = old


def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize()


def time_steps(
        fns: Dict[str, Callable],
        x: torch.Tensor,
        grad: torch.Tensor,
        repeat: int,
        device: torch.device,
        backends: Optional[Dict[str,
                                Optional[str]]] = None) -> Dict[str, float]:
    """Median seconds of forward+backward per variant, interleaved by round.

    Interleaving spreads any slow-down of a busy machine over all variants
    alike, so the ratios stay meaningful. ``backends`` maps a variant to the
    CN backend it runs on.
    """
    backends = backends or {}
    times = {name: [] for name in fns}
    for i in range(repeat + 2):  # the first two rounds warm up
        for name, fn in fns.items():
            with forced_backend(backends.get(name)):
                x.grad = None
                synchronize(device)
                start = time.perf_counter()
                fn(x).backward(grad)
                synchronize(device)
            if i >= 2:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def count_dispatches(fn: Callable,
                     module: torch.nn.Module,
                     x: torch.Tensor,
                     grad: torch.Tensor,
                     backend: Optional[str] = None) -> int:
    """ATen ops plus Triton launches of one forward+backward of ``fn``, as in
    a training step after ``zero_grad()`` (after a warm-up call that fills
    the caches); see :class:`LaunchCounter`."""
    with forced_backend(backend):
        fn(x).backward(grad)
        module.zero_grad(set_to_none=True)
        x.grad = None
        with LaunchCounter() as counter:
            fn(x).backward(grad)
        module.zero_grad(set_to_none=True)
        x.grad = None
    return counter.total
