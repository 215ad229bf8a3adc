"""Launch plans of the Triton kernels: pure functions of the layer's shape.

A reduction over the ``N x S`` values of each channel (the statistics, the
gradient sums) runs in two stages, as Liger-Kernel's layer-norm backward:

1. a program per (chunk of the ``N x S`` values, block of channels) reduces
   its chunk to per-domain partials;
2. a program per block of channels merges the chunks' partials in chunk
   order (Chan's formula for the moments, plain sums for the gradients).

No atomics: the same input gives the same bits run after run. A chunk is a
run of whole samples when the batch has many small samples, else a run of
positions of one sample. The plan splits each channel's values into chunks
until a launch has at least ``programs_per_sm`` programs per multiprocessor,
or its programs read at most ``values`` values each (a few tiles: splitting
further would only add partials).
"""
import functools
from typing import NamedTuple, Tuple

import torch

#: Layouts the kernels read in place.
CONTIGUOUS = 'contiguous'
CHANNELS_LAST = 'channels_last'


class PlanLimits(NamedTuple):
    """What a plan aims for.

    Args:
        tile (int): Values in one tile (``BLOCK_C * BLOCK_S``), a power of 2.
            Default: 1024.
        values (int): Values a reduction program may read without the
            launch being wide; also bounds the second stage's programs.
            Default: 4096.
        programs_per_sm (int): Programs per multiprocessor a reduction
            launch should have when its programs read more than ``values``.
            Default: 4.
    """
    tile: int = 1024
    values: int = 4096
    programs_per_sm: int = 4


class LaunchPlan(NamedTuple):
    """The grids and tiles of one layer's kernels.

    Args:
        block_c (int): Channels per tile.
        block_s (int): Positions per tile.
        samples_per_chunk (int): Samples of one chunk of the first stage.
        positions_per_chunk (int): Positions of one chunk (a multiple of
            ``block_s``, or all ``S``).
        n_chunks (int): Chunks along the samples.
        s_chunks (int): Chunks along the positions.
        finish_block_c (int): Channels per program of the second stage.
        partial_grid (tuple[int, int]): ``(chunks, channel blocks)``.
        finish_grid (tuple[int]): ``(channel blocks of the second stage,)``.
        elementwise_grid (tuple[int, int]): ``(N * position blocks, channel
            blocks)`` of the normalization and the input gradient.
        partial_values (int): Most values a first-stage program reads (of
            one tensor).
        finish_values (int): Most values a second-stage program reads (of
            one partial tensor).
    """
    block_c: int
    block_s: int
    samples_per_chunk: int
    positions_per_chunk: int
    n_chunks: int
    s_chunks: int
    finish_block_c: int
    partial_grid: Tuple[int, int]
    finish_grid: Tuple[int]
    elementwise_grid: Tuple[int, int]
    partial_values: int
    finish_values: int

    @property
    def chunks(self) -> int:
        """int: Chunks of each channel's values (partials per domain)."""
        return self.n_chunks * self.s_chunks


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


def next_power_of_2(n: int) -> int:
    return 1 << max(int(n) - 1, 0).bit_length()


def t_block(num_domains: int) -> int:
    """Rows of the per-domain accumulators (a power of 2, at least 2)."""
    return max(2, next_power_of_2(num_domains))


def tiles(c: int, s: int, layout: str, tile: int = 1024) -> Tuple[int, int]:
    """``(BLOCK_C, BLOCK_S)``: tiles coalesced along the unit stride."""
    if layout == CONTIGUOUS:
        block_s = min(next_power_of_2(max(s, 1)), tile)
        return max(1, min(next_power_of_2(c), tile // block_s)), block_s
    if layout != CHANNELS_LAST:
        raise ValueError(f'layout {layout!r}: use {CONTIGUOUS!r} or '
                         f'{CHANNELS_LAST!r}.')
    block_c = min(next_power_of_2(c), 32, tile)
    return block_c, max(1, min(next_power_of_2(max(s, 1)), tile // block_c))


def _chunking(n: int, s: int, block_s: int, wanted: int):
    """``(samples_per_chunk, positions_per_chunk, n_chunks, s_chunks)`` of
    about ``wanted`` chunks (whole samples when ``wanted <= n``)."""
    n, s = max(n, 1), max(s, 1)
    if wanted <= n:
        spc = cdiv(n, wanted)
        return spc, s, cdiv(n, spc), 1
    per_sample = cdiv(wanted, n)
    pps = cdiv(cdiv(s, per_sample), block_s) * block_s
    return 1, pps, n, cdiv(s, pps)


@functools.lru_cache(maxsize=1024)
def plan(
    n: int,
    c: int,
    s: int,
    layout: str,
    sm_count: int,
    num_domains: int = 2,
    limits: PlanLimits = PlanLimits()) -> LaunchPlan:
    """The launch plan of one layer's kernels.

    Args:
        n (int): Samples.
        c (int): Channels.
        s (int): Positions per channel and sample (``H * W``).
        layout (str): ``'contiguous'`` or ``'channels_last'``.
        sm_count (int): Multiprocessors of the device.
        num_domains (int): Banks t. Default: 2.
        limits (PlanLimits): What the plan aims for. Default: PlanLimits().

    Returns:
        LaunchPlan: The plan.
    """
    block_c, block_s = tiles(c, s, layout, limits.tile)
    c_blocks = max(cdiv(c, block_c), 1)
    target = limits.programs_per_sm * sm_count

    def good(chunking) -> bool:
        spc, pps, n_chunks, s_chunks = chunking
        return n_chunks * s_chunks * c_blocks >= target or \
            block_c * spc * pps <= limits.values

    wanted = 1
    chunking = _chunking(n, s, block_s, wanted)
    # Chunks grow until the launch is wide enough or its reads short enough;
    # at most N * cdiv(S, BLOCK_S) chunks, each one tile.
    most = max(n, 1) * cdiv(max(s, 1), block_s)
    while not good(chunking) and wanted < most:
        wanted = min(max(wanted + 1, wanted * 5 // 4), most)
        chunking = _chunking(n, s, block_s, wanted)
    spc, pps, n_chunks, s_chunks = chunking
    chunks = n_chunks * s_chunks
    # The second stage reads chunks x t rows per channel.
    rows = chunks * t_block(num_domains)
    finish_block_c = max(
        1, min(64, next_power_of_2(c),
               _floor_power_of_2(limits.values // rows)))
    return LaunchPlan(
        block_c=block_c,
        block_s=block_s,
        samples_per_chunk=spc,
        positions_per_chunk=pps,
        n_chunks=n_chunks,
        s_chunks=s_chunks,
        finish_block_c=finish_block_c,
        partial_grid=(chunks, c_blocks),
        finish_grid=(max(cdiv(c, finish_block_c), 1), ),
        elementwise_grid=(n * cdiv(s, block_s), cdiv(c, block_c)),
        partial_values=block_c * spc * pps,
        finish_values=finish_block_c * rows)


def _floor_power_of_2(v: int) -> int:
    return 1 << (max(v, 1).bit_length() - 1)


@functools.lru_cache(maxsize=16)
def sm_count(device: torch.device) -> int:
    """Multiprocessors of ``device`` (1 for the CPU interpreter)."""
    if device.type == 'cuda':
        return torch.cuda.get_device_properties(device).multi_processor_count
    return 1


def plan_of(x: torch.Tensor, strides, t: int, limits) -> LaunchPlan:
    """The launch plan of ``x`` read as (N, C, S) with ``strides`` on its
    device; ``limits`` are :class:`PlanLimits`' three ints."""
    n, c = x.shape[:2]
    s = x[0, 0].numel() if n and c else 0
    layout = CONTIGUOUS if strides[2] == 1 else CHANNELS_LAST
    return plan(n, c, s, layout, sm_count(x.device), t, PlanLimits(*limits))
