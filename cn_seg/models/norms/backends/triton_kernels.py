"""Triton kernels of per-domain batch norm (the CUDA backend).

The input is read as ``(N, C, S)`` through its strides, so contiguous and
channels_last tensors need no copy. Sample ``n`` belongs to bank
``dom[n]``, in any order. Statistics are accumulated in ``ACC`` (float32
for half inputs, as ATen; float64 for float64 inputs) in one pass per
channel block: each tile's mean and sum of squared deviations are merged
into its domain's running (count, mean, M2) with Chan's formula, so large
means cost no precision. Four kernels, one launch each per layer call:

- :func:`stats_kernel` (a program per channel block): per-domain count,
  mean, biased variance and invstd, and, in training, the running-average
  step of the present banks' running statistics;
- :func:`normalize_kernel` (a program per sample, spatial block and channel
  block): ``(x - mean[k]) * invstd[k] * w[k] + b[k]``; its first program also
  counts the batch in ``num_batches_tracked`` (after ``stats_kernel`` has
  read the old counts);
- :func:`grad_sums_kernel` (a program per channel block): per domain
  ``sum(dy)`` and ``sum(dy * x_hat)``, and the weight and bias gradients;
- :func:`grad_input_kernel` (like ``normalize_kernel``): the input gradient.
"""
import triton
import triton.language as tl


@triton.jit
def _domain_rows(dom_ptr, n, T_BLOCK: tl.constexpr):
    """One-hot row selector ``(T_BLOCK,)`` of sample ``n``'s bank."""
    d = tl.load(dom_ptr + n)
    return tl.arange(0, T_BLOCK) == d


@triton.jit
def stats_kernel(x_ptr, dom_ptr, N, C, S, sxn, sxc, sxs, mean_ptr, var_ptr,
                 invstd_ptr, count_ptr, samples_ptr, T, rmean_ptr, rvar_ptr, nbt_ptr, order_ptr, M, momentum_hi,
                 momentum_lo, eps,
                 UPDATE: tl.constexpr, HAS_NBT: tl.constexpr,
                 MOMENTUM_NONE: tl.constexpr, SHARED: tl.constexpr,
                 ACC: tl.constexpr, T_BLOCK: tl.constexpr,
                 BLOCK_C: tl.constexpr, BLOCK_S: tl.constexpr):
    """Per-domain statistics of ``BLOCK_C`` channels over the whole batch.

    Writes ``mean``, biased ``var`` and ``invstd`` (``(T, C)``, ``ACC``) and
    ``count`` (elements per channel) and ``samples`` (``(T,)``, ``ACC``).
    With ``UPDATE``, the running statistics of the banks with values take one
    running-average step (row 0 for every domain if ``SHARED``, in the order
    ``order[0:M]``). Float scalars reach a kernel as float32: the momentum
    comes as ``momentum_hi + momentum_lo``, exact in float64 too.
    """
    pid = tl.program_id(0)
    cs = pid * BLOCK_C + tl.arange(0, BLOCK_C)
    cmask = cs < C
    rows = tl.arange(0, T_BLOCK)
    cnt = tl.zeros((T_BLOCK, BLOCK_C), ACC)
    mean = tl.zeros((T_BLOCK, BLOCK_C), ACC)
    m2 = tl.zeros((T_BLOCK, BLOCK_C), ACC)
    samples = tl.zeros((T_BLOCK, ), ACC)
    for n in range(0, N):
        hit = _domain_rows(dom_ptr, n, T_BLOCK)
        samples += tl.where(hit, 1.0, 0.0).to(ACC)
        sel = hit[:, None]
        base = x_ptr + tl.cast(n, tl.int64) * sxn + cs[:, None].to(tl.int64) * sxc
        for s0 in range(0, S, BLOCK_S):
            ss = s0 + tl.arange(0, BLOCK_S)
            smask = ss < S
            mask = cmask[:, None] & smask[None, :]
            v = tl.load(base + ss[None, :].to(tl.int64) * sxs, mask=mask,
                        other=0.0).to(ACC)
            nb = tl.sum(smask.to(ACC), axis=0)
            tile_mean = tl.sum(v, axis=1) / tl.maximum(nb, 1.0)
            dev = tl.where(mask, v - tile_mean[:, None], 0.0)
            tile_m2 = tl.sum(dev * dev, axis=1)
            new_cnt = cnt + tl.where(sel, nb, 0.0)
            delta = tile_mean[None, :] - mean
            share = tl.where(sel, nb / tl.maximum(new_cnt, 1.0), 0.0)
            mean += delta * share
            m2 += tl.where(sel, tile_m2[None, :] + delta * delta * cnt * share,
                           0.0)
            cnt = new_cnt
    var = m2 / tl.maximum(cnt, 1.0)
    invstd = 1.0 / tl.sqrt(var + eps)
    offs = rows[:, None] * C + cs[None, :]
    omask = (rows[:, None] < T) & cmask[None, :]
    tl.store(mean_ptr + offs, mean, mask=omask)
    tl.store(var_ptr + offs, var, mask=omask)
    tl.store(invstd_ptr + offs, invstd, mask=omask)
    count = tl.max(cnt, axis=1)
    first = (rows < T) & ((rows * 0 + pid) == 0)
    tl.store(count_ptr + rows, count, mask=first)
    tl.store(samples_ptr + rows, samples, mask=first)
    if UPDATE:
        momentum = tl.cast(momentum_hi, ACC) + tl.cast(momentum_lo, ACC)
        unbiased = var * (cnt / tl.maximum(cnt - 1.0, 1.0))
        if SHARED:
            rm = tl.load(rmean_ptr + cs, mask=cmask).to(ACC)
            rv = tl.load(rvar_ptr + cs, mask=cmask).to(ACC)
            old = tl.cast(0.0, ACC)
            if HAS_NBT:
                old = tl.load(nbt_ptr).to(ACC)
            for i in range(0, M):
                k = tl.load(order_ptr + i)
                pick = (rows == k)[:, None]
                mk = tl.sum(tl.where(pick, mean, 0.0), axis=0)
                vk = tl.sum(tl.where(pick, unbiased, 0.0), axis=0)
                ck = tl.sum(tl.where(rows == k, count, 0.0), axis=0)
                if MOMENTUM_NONE:
                    f = 1.0 / (old + tl.cast(i, ACC) + 1.0)
                else:
                    f = momentum
                f = tl.where(ck > 0, f, 0.0)
                rm += f * (mk - rm)
                rv += f * (vk - rv)
            tl.store(rmean_ptr + cs, rm, mask=cmask)
            tl.store(rvar_ptr + cs, rv, mask=cmask)
        else:
            if MOMENTUM_NONE:
                old = tl.load(nbt_ptr + rows, mask=rows < T,
                              other=0).to(ACC)
                f = 1.0 / (old + 1.0)
            else:
                f = tl.zeros((T_BLOCK, ), ACC) + momentum
            f = tl.where(count > 0, f, 0.0)[:, None]
            rm = tl.load(rmean_ptr + offs, mask=omask).to(ACC)
            rv = tl.load(rvar_ptr + offs, mask=omask).to(ACC)
            tl.store(rmean_ptr + offs, rm + f * (mean - rm), mask=omask)
            tl.store(rvar_ptr + offs, rv + f * (unbiased - rv), mask=omask)


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
def normalize_kernel(x_ptr, dom_ptr, C, S, sxn, sxc, sxs, y_ptr, syn, syc,
                     sys, mean_ptr, invstd_ptr, samples_ptr, T, w_ptr, b_ptr,
                     nbt_ptr, M,
                     HAS_WEIGHT: tl.constexpr, HAS_BIAS: tl.constexpr,
                     COUNT_BATCH: tl.constexpr, SHARED: tl.constexpr,
                     ACC: tl.constexpr, T_BLOCK: tl.constexpr,
                     BLOCK_C: tl.constexpr, BLOCK_S: tl.constexpr):
    """``y = (x - mean[k]) * invstd[k] * w[k] + b[k]`` for one tile.

    With ``COUNT_BATCH``, program (0, 0) adds the batch to
    ``num_batches_tracked`` of each bank with samples (row 0 counts every
    present domain if ``SHARED``).
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
    x = tl.load(x_ptr + tl.cast(n, tl.int64) * sxn + cs[:, None].to(tl.int64) * sxc +
                ss[None, :].to(tl.int64) * sxs, mask=mask, other=0.0)
    y = x.to(ACC) * scale[:, None] + shift[:, None]
    tl.store(y_ptr + tl.cast(n, tl.int64) * syn + cs[:, None].to(tl.int64) * syc +
             ss[None, :].to(tl.int64) * sys, y.to(y_ptr.dtype.element_ty),
             mask=mask)
    if COUNT_BATCH:
        rows = tl.arange(0, T_BLOCK)
        first = ((rows * 0 + tl.program_id(0) + tl.program_id(1)) == 0)
        samples = tl.load(samples_ptr + rows, mask=rows < T, other=0.0)
        if SHARED:
            old = tl.load(nbt_ptr + rows * 0, mask=first & (rows == 0), other=0)
            tl.store(nbt_ptr + rows * 0, old + M, mask=first & (rows == 0))
        else:
            rmask = (rows < T) & first
            old = tl.load(nbt_ptr + rows, mask=rmask, other=0)
            tl.store(nbt_ptr + rows, old + (samples > 0).to(old.dtype),
                     mask=rmask)


@triton.jit
def grad_sums_kernel(dy_ptr, sdn, sdc, sds, x_ptr, sxn, sxc, sxs, dom_ptr, N,
                     C, S, mean_ptr, invstd_ptr, T, sums_ptr, gw_ptr, gb_ptr,
                     GRADS: tl.constexpr, ACC: tl.constexpr,
                     T_BLOCK: tl.constexpr, BLOCK_C: tl.constexpr,
                     BLOCK_S: tl.constexpr):
    """Per domain ``sum(dy)`` and ``sum(dy * x_hat)`` of ``BLOCK_C`` channels.

    ``sums`` (``ACC``, ``(T, 2C)``) gets both; with ``GRADS``, ``gw`` and
    ``gb`` (``(T, C)`` in the parameters' dtype) get ``sum(dy * x_hat)`` and
    ``sum(dy)``, the weight and bias gradients.
    """
    pid = tl.program_id(0)
    cs = pid * BLOCK_C + tl.arange(0, BLOCK_C)
    cmask = cs < C
    rows = tl.arange(0, T_BLOCK)
    sum_dy = tl.zeros((T_BLOCK, BLOCK_C), ACC)
    dot = tl.zeros((T_BLOCK, BLOCK_C), ACC)
    for n in range(0, N):
        sel = _domain_rows(dom_ptr, n, T_BLOCK)[:, None]
        d = tl.load(dom_ptr + n)
        m = tl.load(mean_ptr + d * C + cs, mask=cmask, other=0.0).to(ACC)
        xb = x_ptr + tl.cast(n, tl.int64) * sxn + cs[:, None].to(tl.int64) * sxc
        db = dy_ptr + tl.cast(n, tl.int64) * sdn + cs[:, None].to(tl.int64) * sdc
        tile_dy = tl.zeros((BLOCK_C, ), ACC)
        tile_dot = tl.zeros((BLOCK_C, ), ACC)
        for s0 in range(0, S, BLOCK_S):
            ss = s0 + tl.arange(0, BLOCK_S)
            mask = cmask[:, None] & (ss < S)[None, :]
            ss = ss[None, :].to(tl.int64)
            g = tl.load(db + ss * sds, mask=mask, other=0.0).to(ACC)
            v = tl.load(xb + ss * sxs, mask=mask, other=0.0).to(ACC)
            tile_dy += tl.sum(g, axis=1)
            tile_dot += tl.sum(tl.where(mask, g * (v - m[:, None]), 0.0),
                               axis=1)
        sum_dy += tl.where(sel, tile_dy[None, :], 0.0)
        dot += tl.where(sel, tile_dot[None, :], 0.0)
    offs = rows[:, None] * C + cs[None, :]
    omask = (rows[:, None] < T) & cmask[None, :]
    invstd = tl.load(invstd_ptr + offs, mask=omask, other=0.0).to(ACC)
    dot = dot * invstd
    tl.store(sums_ptr + rows[:, None] * (2 * C) + cs[None, :], sum_dy,
             mask=omask)
    tl.store(sums_ptr + rows[:, None] * (2 * C) + C + cs[None, :], dot,
             mask=omask)
    if GRADS:
        tl.store(gw_ptr + offs, dot.to(gw_ptr.dtype.element_ty), mask=omask)
        tl.store(gb_ptr + offs, sum_dy.to(gb_ptr.dtype.element_ty),
                 mask=omask)


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
    sdx = tl.load(sums_ptr + d * 2 * C + C + cs, mask=cmask,
                  other=0.0).to(ACC)
    b = -a * invstd * sdx / cnt
    dd = -a * sdy / cnt
    ss64 = ss[None, :].to(tl.int64)
    c64 = cs[:, None].to(tl.int64)
    n64 = tl.cast(n, tl.int64)
    g = tl.load(dy_ptr + n64 * sdn + c64 * sdc + ss64 * sds, mask=mask,
                other=0.0).to(ACC)
    v = tl.load(x_ptr + n64 * sxn + c64 * sxc + ss64 * sxs, mask=mask,
                other=0.0).to(ACC)
    gx = a[:, None] * g + b[:, None] * (v - mean[:, None]) + dd[:, None]
    tl.store(gx_ptr + n64 * sgn + c64 * sgc + ss64 * sgs,
             gx.to(gx_ptr.dtype.element_ty), mask=mask)
