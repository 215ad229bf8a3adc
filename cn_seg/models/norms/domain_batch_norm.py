"""Batch norm with one bank per domain, on zero-copy slices of the batch.

The path for CUDA and for inputs the CPU kernels do not take (see
``cpu_domain_batch_norm.py``). Each domain's samples form a contiguous slice
of the (domain-ordered) batch. The forward pass calls ATen's native
batch-norm kernel on each slice, writing into that slice of one preallocated
output; the backward pass reduces each slice once (ATen's kernel) and writes
the input gradient with two fused per-channel passes. No gather, no scatter
and no ``torch.cat``. The backward helpers are shared with the synchronized
(multi-process) variant, which only adds an ``all_reduce`` of the per-domain
sums.
"""
from typing import List, Optional, Sequence

import torch

from . import kernels
from .domain_route import Segment

_native_bn = torch.ops.aten.native_batch_norm
_native_bn_backward = torch.ops.aten.native_batch_norm_backward


def bank_momentum(num_batches_tracked: Optional[torch.Tensor], domain: int,
                  momentum: Optional[float]) -> float:
    """Count one more batch for a bank and return its running-average factor.

    Mirrors ``torch.nn.modules.batchnorm._BatchNorm``: ``momentum=None``
    means a cumulative moving average (factor ``1 / num_batches_tracked``).

    Args:
        num_batches_tracked (torch.Tensor, optional): Per-bank counters, shape
            ``(num_domains,)``; incremented in place for ``domain``.
        domain (int): The bank that saw a batch.
        momentum (float, optional): The norm's momentum.

    Returns:
        float: The factor for the running statistics of this bank.
    """
    if num_batches_tracked is not None:
        num_batches_tracked[domain] += 1
        if momentum is None:
            return 1.0 / float(num_batches_tracked[domain])
    return 0.0 if momentum is None else momentum


def _row(t: Optional[torch.Tensor], k: int) -> Optional[torch.Tensor]:
    return None if t is None else t[k]


def domain_grad_input(grad_out: torch.Tensor, x: torch.Tensor,
                      weight: Optional[torch.Tensor], mean: torch.Tensor,
                      invstd: torch.Tensor, segments: Sequence[Segment],
                      sums: torch.Tensor, count: torch.Tensor,
                      grad_x: torch.Tensor) -> None:
    """Write the input gradient of per-domain batch norm into ``grad_x``.

    With ``x_hat = (x - mean) * invstd``, the gradient of domain k is
    ``w * invstd * (dy - sum(dy) / n - x_hat * sum(dy * x_hat) / n)``: per
    channel an affine map ``a * dy + b * x + d``: one pass of the C++ kernel
    ``cn_seg._C`` on the CPU (reads ``dy`` and ``x``, writes ``grad_x``, like
    ATen's own kernel), else two fused ``addcmul`` passes per domain slice.

    Args:
        grad_out (torch.Tensor): ``dy``, contiguous, in domain order.
        x (torch.Tensor): The forward input, contiguous, in domain order.
        weight (torch.Tensor, optional): Per-domain scales ``(t, C)``.
        mean (torch.Tensor): Per-domain batch means ``(t, C)``.
        invstd (torch.Tensor): Per-domain ``1 / sqrt(var + eps)``, ``(t, C)``.
        segments (list[tuple[int, int, int]]): ``(domain, start, end)``.
        sums (torch.Tensor): ``(t, 2C)``: ``sum(dy)`` then ``sum(dy * x_hat)``
            of each domain (over all ranks when synchronized).
        count (torch.Tensor): ``(t,)`` elements per channel of each domain.
        grad_x (torch.Tensor): Output, same shape as ``x``.
    """
    c = x.shape[1]
    n = count.clamp(min=1)[:, None]
    w_invstd = invstd if weight is None else invstd * weight
    b = -w_invstd * invstd * (sums[:, c:] / n)
    d = -w_invstd * (sums[:, :c] / n) - b * mean
    if kernels.cpu_kernels_for(x) and segments and segments[0][1] == 0 \
            and segments[-1][2] == x.shape[0]:
        domains = torch.tensor([k for k, start, end in segments
                                for _ in range(start, end)])
        kernels._C.domain_affine_out(grad_out, x, w_invstd, b, d, domains,
                                     grad_x)
        return
    view = (1, c) + (1, ) * (x.dim() - 2)
    for k, start, end in segments:
        gx = torch.addcmul(d[k].view(view), x[start:end], b[k].view(view),
                           out=grad_x[start:end])
        gx.addcmul_(grad_out[start:end], w_invstd[k].view(view))


def domain_grad_sums(grad_out: torch.Tensor, x: torch.Tensor,
                     mean: torch.Tensor, invstd: torch.Tensor,
                     segments: Sequence[Segment]) -> torch.Tensor:
    """Per domain ``sum(dy)`` and ``sum(dy * x_hat)``, shape ``(t, 2C)``.

    One reduction pass per slice: ATen's batch-norm backward asked for the
    parameter gradients only (CPU and CUDA kernels alike). Rows of domains
    absent from ``segments`` are zero.
    """
    t, c = mean.shape
    sums = torch.zeros(t, 2 * c, dtype=mean.dtype, device=x.device)
    ones = torch.ones(c, dtype=mean.dtype, device=x.device)  # CUDA needs one
    for k, start, end in segments:
        _, sum_dy_xhat, sum_dy = _native_bn_backward(
            grad_out[start:end], x[start:end], ones, None, None, mean[k],
            invstd[k], True, 0.0, [False, True, True])
        sums[k, :c] = sum_dy
        sums[k, c:] = sum_dy_xhat
    return sums


class DomainBatchNormFunction(torch.autograd.Function):
    """Per-domain training-mode batch norm of a domain-ordered batch.

    ``forward(x, weight, bias, running_mean, running_var, segments, factors,
    eps)``: ``weight``/``bias``/running statistics have a leading domain
    dimension; ``segments`` lists ``(domain, start, end)`` slices of ``x``;
    ``factors[i]`` is the running-average factor of segment ``i`` (``None`` to
    leave the running statistics alone).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: Optional[torch.Tensor],
                bias: Optional[torch.Tensor],
                running_mean: Optional[torch.Tensor],
                running_var: Optional[torch.Tensor],
                segments: Sequence[Segment],
                factors: Sequence[Optional[float]],
                eps: float) -> torch.Tensor:
        x = x.contiguous()
        out = torch.empty_like(x)
        # Rows for every bank, also those above the batch's highest domain.
        t = next((b.shape[0] for b in (weight, running_mean) if b is not None),
                 max(k for k, _, _ in segments) + 1)
        mean = x.new_zeros(t, x.shape[1], dtype=_acc(x))
        invstd = torch.ones_like(mean)
        count = mean.new_zeros(t)
        for (k, start, end), factor in zip(segments, factors):
            update = factor is not None
            _native_bn.out(
                x[start:end], _row(weight, k), _row(bias, k),
                _row(running_mean, k) if update else None,
                _row(running_var, k) if update else None, True,
                factor if update else 0.0, eps,
                out=out[start:end], save_mean=mean[k], save_invstd=invstd[k])
            count[k] = x[start:end].numel() // x.shape[1]
        ctx.segments = segments
        ctx.save_for_backward(x, weight, mean, invstd, count)
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        x, weight, mean, invstd, count = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        sums = domain_grad_sums(grad_out, x, mean, invstd, ctx.segments)
        grad_x = grad_w = grad_b = None
        if need_x:
            grad_x = torch.empty_like(x)
            domain_grad_input(grad_out, x, weight, mean, invstd,
                              ctx.segments, sums, count, grad_x)
        if need_w or need_b:
            grad_w, grad_b = _param_grads(sums, weight, need_w, need_b)
        return grad_x, grad_w, grad_b, None, None, None, None, None


def _param_grads(sums: torch.Tensor, weight: torch.Tensor, need_w: bool,
                 need_b: bool):
    """``(grad_weight, grad_bias)`` from per-domain gradient sums."""
    c = sums.shape[1] // 2
    t = weight.shape[0]
    rows = sums.new_zeros(t, 2 * c)
    rows[:sums.shape[0]] = sums
    grad_w = rows[:, c:].to(weight.dtype) if need_w else None
    grad_b = rows[:, :c].to(weight.dtype) if need_b else None
    return grad_w, grad_b


def _acc(x: torch.Tensor) -> torch.dtype:
    """The dtype ATen keeps batch statistics in (float32 for half inputs)."""
    return torch.float32 if x.dtype in (torch.float16, torch.bfloat16) \
        else x.dtype


def domain_batch_norm(x: torch.Tensor, segments: List[Segment],
                      weight: Optional[torch.Tensor],
                      bias: Optional[torch.Tensor],
                      running_mean: Optional[torch.Tensor],
                      running_var: Optional[torch.Tensor],
                      num_batches_tracked: Optional[torch.Tensor],
                      momentum: Optional[float], eps: float,
                      update_stats: bool) -> torch.Tensor:
    """Normalize each domain's slice of ``x`` with its own batch statistics.

    Args:
        x (torch.Tensor): Input ``(N, C, ...)`` in domain order.
        segments (list[tuple[int, int, int]]): ``(domain, start, end)`` slices.
        weight (torch.Tensor, optional): Per-domain scales ``(t, C)``.
        bias (torch.Tensor, optional): Per-domain shifts ``(t, C)``.
        running_mean (torch.Tensor, optional): ``(t, C)``, updated in place.
        running_var (torch.Tensor, optional): ``(t, C)``, updated in place.
        num_batches_tracked (torch.Tensor, optional): ``(t,)`` counters.
        momentum (float, optional): Running-average momentum; ``None`` for a
            cumulative average.
        eps (float): Added to the variance.
        update_stats (bool): Whether to update the present banks' running
            statistics.

    Returns:
        torch.Tensor: The normalized batch, same shape and order as ``x``.
    """
    if update_stats and running_mean is not None:
        factors = [bank_momentum(num_batches_tracked, k, momentum)
                   for k, _, _ in segments]
    else:
        factors = [None] * len(segments)
    return DomainBatchNormFunction.apply(x, weight, bias, running_mean,
                                         running_var, segments, factors, eps)
