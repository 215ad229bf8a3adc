"""The reductions of per-domain batch norm in Triton, in two stages.

Each reduction over the ``N x S`` values of a channel is split as
:func:`~triton_plan.plan` says: a first-stage program per (chunk, channel
block) writes its chunk's per-domain partials, and a second-stage program
per channel block merges every chunk's partials in chunk order. No atomics,
so the same input gives the same bits. Partials are ``(.., P, T, C)`` in
``ACC`` (float32 for half inputs, as ATen; float64 for float64 inputs).

Chunk ``p`` holds samples ``[n0, n0 + SPC)`` (``n0 = (p // S_CHUNKS) *
SPC``) and positions ``[s0, s0 + PPS)`` (``s0 = (p % S_CHUNKS) * PPS``) of
them. Loops run over these host-given counts and mask the last, uneven chunk.

- :func:`stats_partial_kernel` / :func:`stats_finish_kernel`: per-domain
  count, mean, biased variance and invstd (tiles merged into (count, mean,
  M2) with Chan's formula, so large means cost no precision), and in
  training the running-average step of the present banks;
- :func:`grad_partial_kernel` / :func:`grad_finish_kernel`: per domain
  ``sum(dy)`` and ``sum(dy * x_hat)``, and the weight and bias gradients.
"""
import triton
import triton.language as tl


@triton.jit
def _chunk(C, S_CHUNKS, SPC, PPS, BLOCK_C: tl.constexpr):
    """First sample ``n0``, first position ``s0`` and channels of the
    program's chunk."""
    p = tl.program_id(0)
    cs = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    return (p // S_CHUNKS) * SPC, (p % S_CHUNKS) * PPS, cs, cs < C


@triton.jit
def _merge(cnt, mean, m2, n_b, mean_b, m2_b):
    """Chan's formula: (count, mean, M2) of two disjoint sets of values."""
    new_cnt = cnt + n_b
    delta = mean_b - mean
    share = n_b / tl.maximum(new_cnt, 1.0)
    return new_cnt, mean + delta * share, m2 + m2_b + delta * delta * cnt * \
        share


@triton.jit
def stats_partial_kernel(
        x_ptr,  # (N, C, S) by strides sxn, sxc, sxs
        dom_ptr,  # (N,) int64 bank of each sample
        N,
        C,
        S,
        sxn,
        sxc,
        sxs,
        part_ptr,  # (3, P, T, C) ACC: count, mean, M2
        P,
        T,
        SPC,
        PPS,
        S_CHUNKS,
        ACC: tl.constexpr,
        T_BLOCK: tl.constexpr,
        BLOCK_C: tl.constexpr,
        BLOCK_S: tl.constexpr):
    """Per-domain (count, mean, M2) of one chunk of ``BLOCK_C`` channels."""
    n0, s0, cs, cmask = _chunk(C, S_CHUNKS, SPC, PPS, BLOCK_C)
    rows = tl.arange(0, T_BLOCK)
    cnt = tl.zeros((T_BLOCK, BLOCK_C), ACC)
    mean = tl.zeros((T_BLOCK, BLOCK_C), ACC)
    m2 = tl.zeros((T_BLOCK, BLOCK_C), ACC)
    for i in range(0, SPC):
        n = n0 + i
        # Vectors, not a scalar: the interpreter refuses scalar & block masks.
        d = tl.load(dom_ptr + n, mask=n < N, other=-1)
        sel = ((rows == d) & ((rows * 0 + n) < N))[:, None]
        base = x_ptr + tl.cast(n, tl.int64) * sxn + \
            cs[:, None].to(tl.int64) * sxc
        for j in range(0, PPS, BLOCK_S):
            off = j + tl.arange(0, BLOCK_S)
            ss = s0 + off
            smask = (ss < S) & (off < PPS) & ((off * 0 + n) < N)
            mask = cmask[:, None] & smask[None, :]
            v = tl.load(
                base + ss[None, :].to(tl.int64) * sxs, mask=mask,
                other=0.0).to(ACC)
            nb = tl.sum(smask.to(ACC), axis=0)
            tile_mean = tl.sum(v, axis=1) / tl.maximum(nb, 1.0)
            dev = tl.where(mask, v - tile_mean[:, None], 0.0)
            tile_m2 = tl.sum(dev * dev, axis=1)
            cnt, mean, m2 = _merge(cnt, mean, m2, tl.where(sel, nb, 0.0),
                                   tile_mean[None, :],
                                   tl.where(sel, tile_m2[None, :], 0.0))
    offs = (tl.program_id(0) * T + rows)[:, None] * C + cs[None, :]
    omask = (rows[:, None] < T) & cmask[None, :]
    stride = P * T * C
    tl.store(part_ptr + offs, cnt, mask=omask)
    tl.store(part_ptr + stride + offs, mean, mask=omask)
    tl.store(part_ptr + 2 * stride + offs, m2, mask=omask)


@triton.jit
def stats_finish_kernel(
        part_ptr,  # (3, P, T, C) from stats_partial_kernel
        P,
        dom_ptr,
        N,
        C,
        T,
        mean_ptr,
        var_ptr,
        invstd_ptr,  # (T, C) ACC outputs
        count_ptr,
        samples_ptr,  # (T,) ACC outputs
        rmean_ptr,
        rvar_ptr,  # (T, C) running statistics
        nbt_ptr,  # (T,) num_batches_tracked
        momentum_hi,
        momentum_lo,
        eps,
        UPDATE: tl.constexpr,
        HAS_NBT: tl.constexpr,
        MOMENTUM_NONE: tl.constexpr,
        ACC: tl.constexpr,
        T_BLOCK: tl.constexpr,
        BLOCK_C: tl.constexpr):
    """Merge the chunks' moments in chunk order; statistics and, with
    ``UPDATE``, one running-average step of the banks with values. Float
    scalars reach a kernel as float32: the momentum comes as
    ``momentum_hi + momentum_lo``, exact in float64 too."""
    pid = tl.program_id(0)
    cs = pid * BLOCK_C + tl.arange(0, BLOCK_C)
    cmask = cs < C
    rows = tl.arange(0, T_BLOCK)
    omask = (rows[:, None] < T) & cmask[None, :]
    cnt = tl.zeros((T_BLOCK, BLOCK_C), ACC)
    mean = tl.zeros((T_BLOCK, BLOCK_C), ACC)
    m2 = tl.zeros((T_BLOCK, BLOCK_C), ACC)
    stride = P * T * C
    for p in range(0, P):
        offs = (p * T + rows)[:, None] * C + cs[None, :]
        cnt, mean, m2 = _merge(
            cnt, mean, m2, tl.load(part_ptr + offs, mask=omask, other=0.0),
            tl.load(part_ptr + stride + offs, mask=omask, other=0.0),
            tl.load(part_ptr + 2 * stride + offs, mask=omask, other=0.0))
    var = m2 / tl.maximum(cnt, 1.0)
    invstd = 1.0 / tl.sqrt(var + eps)
    offs = rows[:, None] * C + cs[None, :]
    tl.store(mean_ptr + offs, mean, mask=omask)
    tl.store(var_ptr + offs, var, mask=omask)
    tl.store(invstd_ptr + offs, invstd, mask=omask)
    count = tl.max(cnt, axis=1)
    samples = tl.zeros((T_BLOCK, ), ACC)
    for n in range(0, N):
        samples += tl.where(rows == tl.load(dom_ptr + n), 1.0, 0.0).to(ACC)
    first = (rows < T) & ((rows * 0 + pid) == 0)
    tl.store(count_ptr + rows, count, mask=first)
    tl.store(samples_ptr + rows, samples, mask=first)
    if UPDATE:
        momentum = tl.cast(momentum_hi, ACC) + tl.cast(momentum_lo, ACC)
        unbiased = var * (cnt / tl.maximum(cnt - 1.0, 1.0))
        if MOMENTUM_NONE:
            old = tl.load(nbt_ptr + rows, mask=rows < T, other=0).to(ACC)
            f = 1.0 / (old + 1.0)
        else:
            f = tl.zeros((T_BLOCK, ), ACC) + momentum
        f = tl.where(count > 0, f, 0.0)[:, None]
        rm = tl.load(rmean_ptr + offs, mask=omask).to(ACC)
        rv = tl.load(rvar_ptr + offs, mask=omask).to(ACC)
        tl.store(rmean_ptr + offs, rm + f * (mean - rm), mask=omask)
        tl.store(rvar_ptr + offs, rv + f * (unbiased - rv), mask=omask)


@triton.jit
def grad_partial_kernel(
        dy_ptr,
        sdn,
        sdc,
        sds,  # (N, C, S) by strides
        x_ptr,
        sxn,
        sxc,
        sxs,  # (N, C, S) by strides
        dom_ptr,
        N,
        C,
        S,
        mean_ptr,  # (T, C) ACC batch means
        part_ptr,  # (2, P, T, C) ACC: sum dy, sum dy*(x-m)
        P,
        T,
        SPC,
        PPS,
        S_CHUNKS,
        ACC: tl.constexpr,
        T_BLOCK: tl.constexpr,
        BLOCK_C: tl.constexpr,
        BLOCK_S: tl.constexpr):
    """Per domain ``sum(dy)`` and ``sum(dy * (x - mean))`` of one chunk."""
    n0, s0, cs, cmask = _chunk(C, S_CHUNKS, SPC, PPS, BLOCK_C)
    rows = tl.arange(0, T_BLOCK)
    sum_dy = tl.zeros((T_BLOCK, BLOCK_C), ACC)
    dot = tl.zeros((T_BLOCK, BLOCK_C), ACC)
    for i in range(0, SPC):
        n = n0 + i
        d = tl.load(dom_ptr + n, mask=n < N, other=0)
        sel = ((rows == d) & ((rows * 0 + n) < N))[:, None]
        m = tl.load(
            mean_ptr + d * C + cs, mask=cmask & ((cs * 0 + n) < N),
            other=0.0).to(ACC)
        xb = x_ptr + tl.cast(n, tl.int64) * sxn + \
            cs[:, None].to(tl.int64) * sxc
        db = dy_ptr + tl.cast(n, tl.int64) * sdn + \
            cs[:, None].to(tl.int64) * sdc
        tile_dy = tl.zeros((BLOCK_C, ), ACC)
        tile_dot = tl.zeros((BLOCK_C, ), ACC)
        for j in range(0, PPS, BLOCK_S):
            off = j + tl.arange(0, BLOCK_S)
            ss = s0 + off
            mask = cmask[:, None] & ((ss < S) & (off < PPS) &
                                     ((off * 0 + n) < N))[None, :]
            ss = ss[None, :].to(tl.int64)
            g = tl.load(db + ss * sds, mask=mask, other=0.0).to(ACC)
            v = tl.load(xb + ss * sxs, mask=mask, other=0.0).to(ACC)
            tile_dy += tl.sum(g, axis=1)
            tile_dot += tl.sum(
                tl.where(mask, g * (v - m[:, None]), 0.0), axis=1)
        sum_dy += tl.where(sel, tile_dy[None, :], 0.0)
        dot += tl.where(sel, tile_dot[None, :], 0.0)
    offs = (tl.program_id(0) * T + rows)[:, None] * C + cs[None, :]
    omask = (rows[:, None] < T) & cmask[None, :]
    tl.store(part_ptr + offs, sum_dy, mask=omask)
    tl.store(part_ptr + P * T * C + offs, dot, mask=omask)


@triton.jit
def grad_finish_kernel(
        part_ptr,  # (2, P, T, C) from grad_partial_kernel
        P,
        C,
        T,
        invstd_ptr,  # (T, C) ACC
        sums_ptr,  # (T, 2C) ACC output
        gw_ptr,
        gb_ptr,  # (T, C) parameter gradients
        GRADS: tl.constexpr,
        ACC: tl.constexpr,
        T_BLOCK: tl.constexpr,
        BLOCK_C: tl.constexpr):
    """Sum the chunks' partials in chunk order: ``sums`` gets per domain
    ``sum(dy)`` then ``sum(dy * x_hat)``; with ``GRADS``, ``gw`` and ``gb``
    (in the parameters' dtype) get the weight and bias gradients."""
    cs = tl.program_id(0) * BLOCK_C + tl.arange(0, BLOCK_C)
    cmask = cs < C
    rows = tl.arange(0, T_BLOCK)
    omask = (rows[:, None] < T) & cmask[None, :]
    sum_dy = tl.zeros((T_BLOCK, BLOCK_C), ACC)
    dot = tl.zeros((T_BLOCK, BLOCK_C), ACC)
    for p in range(0, P):
        offs = (p * T + rows)[:, None] * C + cs[None, :]
        sum_dy += tl.load(part_ptr + offs, mask=omask, other=0.0)
        dot += tl.load(part_ptr + P * T * C + offs, mask=omask, other=0.0)
    offs = rows[:, None] * C + cs[None, :]
    dot = dot * tl.load(invstd_ptr + offs, mask=omask, other=0.0).to(ACC)
    tl.store(
        sums_ptr + rows[:, None] * (2 * C) + cs[None, :], sum_dy, mask=omask)
    tl.store(
        sums_ptr + rows[:, None] * (2 * C) + C + cs[None, :], dot, mask=omask)
    if GRADS:
        tl.store(gw_ptr + offs, dot.to(gw_ptr.dtype.element_ty), mask=omask)
        tl.store(gb_ptr + offs, sum_dy.to(gb_ptr.dtype.element_ty), mask=omask)
