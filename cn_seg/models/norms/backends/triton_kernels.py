"""Elementwise Triton kernels of per-domain batch norm (the CUDA backend).

The input is read as ``(N, C, S)`` through its strides, so contiguous and
channels_last tensors need no copy. Sample ``n`` belongs to bank
``dom[n]``, in any order. Both kernels take one tile per program (a program
per sample, position block and channel block, as :mod:`triton_plan` lays
them out) and compute in ``ACC`` (float32 for half inputs, as ATen):

- :func:`normalize_kernel`: ``(x - mean[k]) * invstd[k] * w[k] + b[k]``; its
  first program also counts the batch in ``num_batches_tracked`` (after the
  statistics kernel has read the old counts);
- :func:`grad_input_kernel`: the input gradient.

The reductions (statistics, gradient sums) are in :mod:`triton_reductions`.
"""
import triton
import triton.language as tl


@triton.jit
def _tile(C, S, BLOCK_C: tl.constexpr, BLOCK_S: tl.constexpr):
    """The sample ``n``, positions ``ss``, channels ``cs`` and masks of the
    tile of program ``(n * cdiv(S, BLOCK_S) + s block, c block)``."""
    pid_ns = tl.program_id(0)
    num_sb = tl.cdiv(S, BLOCK_S)
    n = pid_ns // num_sb
    ss = (pid_ns % num_sb) * BLOCK_S + tl.arange(0, BLOCK_S)
    cs = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    cmask = cs < C
    return n, ss, cs, cmask, cmask[:, None] & (ss < S)[None, :]


@triton.jit
def normalize_kernel(x_ptr, dom_ptr, C, S, sxn, sxc, sxs, y_ptr, syn, syc, sys,
                     mean_ptr, invstd_ptr, samples_ptr, T, w_ptr, b_ptr,
                     nbt_ptr, HAS_WEIGHT: tl.constexpr, HAS_BIAS: tl.constexpr,
                     COUNT_BATCH: tl.constexpr, ACC: tl.constexpr,
                     T_BLOCK: tl.constexpr, BLOCK_C: tl.constexpr,
                     BLOCK_S: tl.constexpr):
    """``y = (x - mean[k]) * invstd[k] * w[k] + b[k]`` for one tile.

    With ``COUNT_BATCH``, program (0, 0) adds the batch to
    ``num_batches_tracked`` of each bank with samples.
    """
    n, ss, cs, cmask, mask = _tile(C, S, BLOCK_C, BLOCK_S)
    d = tl.load(dom_ptr + n)
    row = d * C + cs
    mean = tl.load(mean_ptr + row, mask=cmask, other=0.0).to(ACC)
    scale = tl.load(invstd_ptr + row, mask=cmask, other=0.0).to(ACC)
    if HAS_WEIGHT:
        scale = scale * tl.load(w_ptr + row, mask=cmask, other=0.0).to(ACC)
    shift = -mean * scale
    if HAS_BIAS:
        shift += tl.load(b_ptr + row, mask=cmask, other=0.0).to(ACC)
    x = tl.load(
        x_ptr + tl.cast(n, tl.int64) * sxn + cs[:, None].to(tl.int64) * sxc +
        ss[None, :].to(tl.int64) * sxs,
        mask=mask,
        other=0.0)
    y = x.to(ACC) * scale[:, None] + shift[:, None]
    tl.store(
        y_ptr + tl.cast(n, tl.int64) * syn + cs[:, None].to(tl.int64) * syc +
        ss[None, :].to(tl.int64) * sys,
        y.to(y_ptr.dtype.element_ty),
        mask=mask)
    if COUNT_BATCH:
        rows = tl.arange(0, T_BLOCK)
        first = ((rows * 0 + tl.program_id(0) + tl.program_id(1)) == 0)
        samples = tl.load(samples_ptr + rows, mask=rows < T, other=0.0)
        rmask = (rows < T) & first
        old = tl.load(nbt_ptr + rows, mask=rmask, other=0)
        tl.store(nbt_ptr + rows, old + (samples > 0).to(old.dtype), mask=rmask)


@triton.jit
def grad_input_kernel(dy_ptr, sdn, sdc, sds, x_ptr, sxn, sxc, sxs, dom_ptr, C,
                      S, gx_ptr, sgn, sgc, sgs, mean_ptr, invstd_ptr, sums_ptr,
                      count_ptr, w_ptr, HAS_WEIGHT: tl.constexpr,
                      ACC: tl.constexpr, BLOCK_C: tl.constexpr,
                      BLOCK_S: tl.constexpr):
    """``dx = a * dy + b * (x - mean) + d`` for one tile, where per domain k
    ``a = w * invstd``, ``b = -a * invstd * sum(dy * x_hat) / n`` and ``d =
    -a * sum(dy) / n`` (``sums`` and ``count`` over all processes when
    synchronized)."""
    n, ss, cs, cmask, mask = _tile(C, S, BLOCK_C, BLOCK_S)
    d = tl.load(dom_ptr + n)
    row = d * C + cs
    mean = tl.load(mean_ptr + row, mask=cmask, other=0.0).to(ACC)
    invstd = tl.load(invstd_ptr + row, mask=cmask, other=0.0).to(ACC)
    cnt = tl.maximum(tl.load(count_ptr + d).to(ACC), 1.0)
    a = invstd
    if HAS_WEIGHT:
        a = a * tl.load(w_ptr + row, mask=cmask, other=0.0).to(ACC)
    sdy = tl.load(sums_ptr + d * 2 * C + cs, mask=cmask, other=0.0).to(ACC)
    sdx = tl.load(sums_ptr + d * 2 * C + C + cs, mask=cmask, other=0.0).to(ACC)
    b = -a * invstd * sdx / cnt
    dd = -a * sdy / cnt
    ss64 = ss[None, :].to(tl.int64)
    c64 = cs[:, None].to(tl.int64)
    n64 = tl.cast(n, tl.int64)
    g = tl.load(
        dy_ptr + n64 * sdn + c64 * sdc + ss64 * sds, mask=mask,
        other=0.0).to(ACC)
    v = tl.load(
        x_ptr + n64 * sxn + c64 * sxc + ss64 * sxs, mask=mask,
        other=0.0).to(ACC)
    gx = a[:, None] * g + b[:, None] * (v - mean[:, None]) + dd[:, None]
    tl.store(
        gx_ptr + n64 * sgn + c64 * sgc + ss64 * sgs,
        gx.to(gx_ptr.dtype.element_ty),
        mask=mask)
