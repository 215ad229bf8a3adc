"""The Triton kernels of per-domain batch norm as torch custom ops.

Each op (``torch.library.triton_op``) lays the tensors out and launches the
kernels of :mod:`triton_kernels` and :mod:`triton_reductions` with the grids
of :func:`~triton_plan.plan`; :class:`~triton_backend.TritonBackend`
composes them into a training step. Every op takes the plan's
:class:`~triton_plan.PlanLimits` as ``limits`` (three ints). The ops exist
only where triton imports (``triton`` is None otherwise).
"""
import struct
from typing import List, Optional, Tuple

import torch

from .common import acc_dtype
from .triton_plan import LaunchPlan, plan_of, t_block

try:
    import triton
    import triton.language as tl

    from . import triton_kernels as K
    from . import triton_reductions as R
except ImportError:  # pragma: no cover - triton is optional
    triton = None

#: The input dtypes the kernels take.
DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _layout(t: torch.Tensor):
    """``(t, (stride_n, stride_c, stride_s))`` reading ``t`` as (N, C, S).

    Contiguous and channels_last tensors are read in place; any other
    layout is copied to contiguous first.
    """
    c = t.shape[1]
    s = t[0, 0].numel() if t.shape[0] and c else \
        int(torch.Size(t.shape[2:]).numel())
    if t.dim() > 2 and not t.is_contiguous() and t.stride(1) == 1 and \
            all(t.stride(i) == c * int(torch.Size(t.shape[i + 1:]).numel())
                for i in range(2, t.dim())) and t.stride(0) == c * s:
        return t, (c * s, 1, c)  # channels_last (2D or 3D)
    t = t.contiguous()
    return t, (c * s, s, 1)


def _acc(dtype: torch.dtype):
    return tl.float64 if acc_dtype(dtype) == torch.float64 else tl.float32


def _hi_lo(value: float) -> Tuple[float, float]:
    """``value`` as two float32 numbers whose sum is it to float64 precision
    (a kernel receives float scalars as float32)."""
    hi = _float32(value)
    return hi, _float32(value - hi)


def _float32(value: float) -> float:
    """``value`` rounded to float32 (without a tensor op)."""
    return struct.unpack('f', struct.pack('f', value))[0]


def _chunking(p: LaunchPlan, t: int) -> Tuple[int, ...]:
    """The partial kernels' chunk arguments: count, domains, chunk sizes."""
    return (p.chunks, t, p.samples_per_chunk, p.positions_per_chunk,
            p.s_chunks)


if triton is not None:
    _wrap = torch.library.wrap_triton

    @torch.library.triton_op(
        'cn_seg::triton_bn_stats',
        mutates_args={'running_mean', 'running_var'})
    def triton_bn_stats(x: torch.Tensor, domain: torch.Tensor,
                        num_domains: int, running_mean: Optional[torch.Tensor],
                        running_var: Optional[torch.Tensor],
                        num_batches_tracked: Optional[torch.Tensor],
                        momentum: float, momentum_none: bool, eps: float,
                        update: bool, limits: List[int]) -> torch.Tensor:
        """Statistics ``[mean | var | invstd | count | samples]`` (flat),
        then the first stage's partials."""
        x, strides = _layout(x)
        n, c = x.shape[:2]
        s = x[0, 0].numel() if n and c else 0
        t = num_domains
        p = plan_of(x, strides, t, limits)
        head = 3 * t * c + 2 * t
        stats = torch.empty(
            head + 3 * p.chunks * t * c,
            dtype=acc_dtype(x.dtype),
            device=x.device)
        mean, var, invstd = stats[:3 * t * c].view(3, t, c).unbind()
        count, samples = stats[3 * t * c:head].view(2, t).unbind()
        part = stats[head:]
        acc, rows = _acc(x.dtype), t_block(t)
        _wrap(R.stats_partial_kernel)[p.partial_grid](
            x,
            domain,
            n,
            c,
            s,
            *strides,
            part,
            *_chunking(p, t),
            ACC=acc,
            T_BLOCK=rows,
            BLOCK_C=p.block_c,
            BLOCK_S=p.block_s)
        _wrap(R.stats_finish_kernel)[p.finish_grid](
            part,
            p.chunks,
            domain,
            n,
            c,
            t,
            mean,
            var,
            invstd,
            count,
            samples,
            running_mean,
            running_var,
            num_batches_tracked,
            *_hi_lo(momentum),
            eps,
            UPDATE=update,
            HAS_NBT=num_batches_tracked is not None,
            MOMENTUM_NONE=momentum_none,
            ACC=acc,
            T_BLOCK=rows,
            BLOCK_C=p.finish_block_c)
        return stats

    @torch.library.triton_op(
        'cn_seg::triton_bn_normalize', mutates_args={'num_batches_tracked'})
    def triton_bn_normalize(x: torch.Tensor, domain: torch.Tensor,
                            mean: torch.Tensor, invstd: torch.Tensor,
                            samples: torch.Tensor,
                            weight: Optional[torch.Tensor],
                            bias: Optional[torch.Tensor],
                            num_batches_tracked: Optional[torch.Tensor],
                            limits: List[int]) -> torch.Tensor:
        """``(x - mean[k]) * invstd[k] * w[k] + b[k]``; counts the batch in
        ``num_batches_tracked`` when given."""
        x, strides = _layout(x)
        y = torch.empty_like(x)
        n, c = x.shape[:2]
        s = x[0, 0].numel() if n and c else 0
        _, y_strides = _layout(y)
        t = mean.shape[0]
        p = plan_of(x, strides, t, limits)
        if 0 in p.elementwise_grid:  # nothing to normalize
            if num_batches_tracked is not None and n:
                num_batches_tracked.add_((samples
                                          > 0).to(num_batches_tracked.dtype))
            return y
        _wrap(K.normalize_kernel)[p.elementwise_grid](
            x,
            domain,
            c,
            s,
            *strides,
            y,
            *y_strides,
            mean,
            invstd,
            samples,
            t,
            weight,
            bias,
            num_batches_tracked,
            HAS_WEIGHT=weight is not None,
            HAS_BIAS=bias is not None,
            COUNT_BATCH=num_batches_tracked is not None,
            ACC=_acc(x.dtype),
            T_BLOCK=t_block(t),
            BLOCK_C=p.block_c,
            BLOCK_S=p.block_s)
        return y

    @torch.library.triton_op('cn_seg::triton_bn_grad_sums', mutates_args=())
    def triton_bn_grad_sums(grad_out: torch.Tensor, x: torch.Tensor,
                            domain: torch.Tensor, mean: torch.Tensor,
                            invstd: torch.Tensor,
                            param_dtype: Optional[torch.dtype],
                            limits: List[int]) -> torch.Tensor:
        """One byte buffer: the sums ``(t, 2C)`` in the statistics' dtype,
        the first stage's partials, then (with ``param_dtype``) the weight
        and bias gradients."""
        x, x_strides = _layout(x)
        grad_out, dy_strides = _layout(grad_out)
        n, c = x.shape[:2]
        s = x[0, 0].numel() if n and c else 0
        t = mean.shape[0]
        p = plan_of(x, x_strides, t, limits)
        size = mean.element_size()
        sums_bytes = t * 2 * c * size
        part_bytes = p.chunks * t * 2 * c * size
        grad_bytes = 0 if param_dtype is None else t * c * param_dtype.itemsize
        buf = torch.empty(
            sums_bytes + part_bytes + 2 * grad_bytes,
            dtype=torch.uint8,
            device=x.device)
        sums = buf[:sums_bytes].view(mean.dtype)
        part = buf[sums_bytes:sums_bytes + part_bytes].view(mean.dtype)
        gw = gb = None
        if param_dtype is not None:
            grads = buf[sums_bytes + part_bytes:].view(param_dtype)
            gw, gb = grads[:t * c], grads[t * c:]
        acc, rows = _acc(x.dtype), t_block(t)
        _wrap(R.grad_partial_kernel)[p.partial_grid](
            grad_out,
            *dy_strides,
            x,
            *x_strides,
            domain,
            n,
            c,
            s,
            mean,
            part,
            *_chunking(p, t),
            ACC=acc,
            T_BLOCK=rows,
            BLOCK_C=p.block_c,
            BLOCK_S=p.block_s)
        _wrap(R.grad_finish_kernel)[p.finish_grid](
            part,
            p.chunks,
            c,
            t,
            invstd,
            sums,
            gw,
            gb,
            GRADS=param_dtype is not None,
            ACC=acc,
            T_BLOCK=rows,
            BLOCK_C=p.finish_block_c)
        return buf

    @torch.library.triton_op('cn_seg::triton_bn_grad_input', mutates_args=())
    def triton_bn_grad_input(grad_out: torch.Tensor, x: torch.Tensor,
                             domain: torch.Tensor, mean: torch.Tensor,
                             invstd: torch.Tensor, sums: torch.Tensor,
                             count: torch.Tensor,
                             weight: Optional[torch.Tensor],
                             limits: List[int]) -> torch.Tensor:
        """The input gradient from the (possibly all-reduced) sums."""
        x, x_strides = _layout(x)
        grad_out, dy_strides = _layout(grad_out)
        grad_x = torch.empty_like(x)
        _, gx_strides = _layout(grad_x)
        n, c = x.shape[:2]
        s = x[0, 0].numel() if n and c else 0
        p = plan_of(x, x_strides, mean.shape[0], limits)
        if 0 in p.elementwise_grid:
            return grad_x
        _wrap(K.grad_input_kernel)[p.elementwise_grid](
            grad_out,
            *dy_strides,
            x,
            *x_strides,
            domain,
            c,
            s,
            grad_x,
            *gx_strides,
            mean,
            invstd,
            sums,
            count,
            weight,
            HAS_WEIGHT=weight is not None,
            ACC=_acc(x.dtype),
            BLOCK_C=p.block_c,
            BLOCK_S=p.block_s)
        return grad_x


def interpreted() -> bool:
    """Whether the kernels were built for Triton's interpreter (CPU)."""
    from triton.runtime.interpreter import InterpretedFunction
    return isinstance(K.normalize_kernel, InterpretedFunction)
