"""Per-domain batch norm synchronized across processes (CN over SyncBN).

The statistics of domain k are those of all of domain k's samples on all ranks
of the process group, so a distributed run equals single-process CN on the
concatenated global batch. Every domain's (sum, sum of squares, count) travels
in one ``all_reduce`` in the forward pass and every domain's gradient sums in
one ``all_reduce`` in the backward pass, whatever each rank's batch holds: a
rank without some domain still takes part with zeros, so no rank waits on a
collective another rank skips, and a domain absent on every rank keeps its
bank untouched. Plain ``torch.distributed`` collectives work on gloo (CPU) and
NCCL (GPU) alike; ``torch.nn.SyncBatchNorm`` refuses CPU tensors. Nothing here
reads a tensor back to the host, so CUDA streams are never synchronized.
"""
from typing import List, Optional, Tuple

import torch
import torch.distributed as dist

from .domain_batch_norm import (_acc, _native_bn, _param_grads, _row,
                                domain_grad_input, domain_grad_sums)
from .domain_route import Segment


def sync_world(group=None) -> int:
    """Number of processes statistics are synchronized over (1 if none)."""
    if not (dist.is_available() and dist.is_initialized()):
        return 1
    return dist.get_world_size(group)


def _mean_var(xs: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and biased variance of ``xs`` in the BN acc dtype.

    ATen's batch-norm statistics kernel (CPU and CUDA): one pass, several
    times faster than ``torch.var_mean`` over ``(N, H, W)`` on the CPU. Half
    inputs get float32 statistics when given float32 (scratch) running
    statistics, as in ATen's mixed-precision batch norm.
    """
    acc = _acc(xs)
    scratch = [None, None] if acc == xs.dtype else \
        xs.new_zeros(2, xs.shape[1], dtype=acc).unbind()
    return torch.batch_norm_update_stats(xs, *scratch, 0.0)


def _update_running_stats(running_mean: torch.Tensor,
                          running_var: torch.Tensor,
                          num_batches_tracked: Optional[torch.Tensor],
                          momentum: Optional[float], mean: torch.Tensor,
                          var: torch.Tensor, count: torch.Tensor) -> None:
    """Update the banks of the domains seen on any rank, on the device.

    Mirrors ``torch.nn.modules.batchnorm._BatchNorm`` per bank: unbiased
    variance over the global count, ``momentum=None`` meaning a cumulative
    average over the bank's own ``num_batches_tracked``.
    """
    present = count > 0
    if num_batches_tracked is not None:
        num_batches_tracked.add_(present.to(num_batches_tracked.dtype))
    if momentum is not None:
        factor = torch.full_like(count, momentum)
    elif num_batches_tracked is not None:
        factor = 1.0 / num_batches_tracked.clamp(min=1).to(count.dtype)
    else:
        factor = torch.zeros_like(count)
    factor = factor[:, None]
    unbiased = var * (count / (count - 1).clamp(min=1))[:, None]
    keep = ~present[:, None]
    for buf, new in ((running_mean, mean), (running_var, unbiased)):
        value = buf * (1 - factor) + new * factor
        buf.copy_(torch.where(keep, buf, value.to(buf.dtype)))


class SyncDomainBatchNormFunction(torch.autograd.Function):
    """Training-mode per-domain batch norm with statistics over all ranks."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var,
                num_batches_tracked, segments, num_domains, momentum, eps,
                update_stats, group):
        x = x.contiguous()
        c = x.shape[1]
        per_channel = x.numel() // max(x.shape[0], 1) // c
        # float64: the sums of squares of all ranks lose nothing before the
        # subtraction E[x^2] - E[x]^2.
        stats = torch.zeros(num_domains, 2 * c + 1, dtype=torch.float64,
                            device=x.device)
        for k, start, end in segments:
            mean, var = _mean_var(x[start:end])
            n = (end - start) * per_channel
            mean = mean.double()
            stats[k, :c] += mean * n
            stats[k, c:2 * c] += (var.double() + mean * mean) * n
            stats[k, 2 * c] += n
        dist.all_reduce(stats, group=group)
        count = stats[:, 2 * c]
        mean64 = stats[:, :c] / count.clamp(min=1)[:, None]
        var64 = (stats[:, c:2 * c] / count.clamp(min=1)[:, None] -
                 mean64 * mean64).clamp(min=0)
        if update_stats and running_mean is not None:
            _update_running_stats(running_mean, running_var,
                                  num_batches_tracked, momentum, mean64,
                                  var64, count)
        acc = _acc(x)
        mean, var = mean64.to(acc), var64.to(acc)
        out = torch.empty_like(x)
        # Eval-mode kernels write the statistics they use into save_mean and
        # save_invstd (CUDA does): two distinct scratch buffers.
        scratch = x.new_empty(2, c, dtype=acc)
        for k, start, end in segments:
            _native_bn.out(x[start:end], _row(weight, k), _row(bias, k),
                           mean[k], var[k], False, 0.0, eps,
                           out=out[start:end], save_mean=scratch[0],
                           save_invstd=scratch[1])
        ctx.segments, ctx.group = segments, group
        ctx.save_for_backward(x, weight, mean,
                              torch.rsqrt(var64 + eps).to(acc), count.to(acc))
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, mean, invstd, count = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        # This rank's sum(dy) and sum(dy * x_hat), normalized with the global
        # statistics.
        sums = domain_grad_sums(grad_out, x, mean, invstd, ctx.segments)
        grad_w = grad_b = grad_x = None
        if need_w or need_b:
            # This rank's share (a copy, taken before the reduction), as for
            # SyncBatchNorm: the data-parallel wrapper reduces parameter
            # gradients like those of any other layer.
            grad_w, grad_b = _param_grads(sums, weight, need_w, need_b)
        if need_x:  # the same on every rank, since the model is the same
            dist.all_reduce(sums, group=ctx.group)
            grad_x = torch.empty_like(x)
            if ctx.segments:  # a rank with an empty batch has nothing to do
                domain_grad_input(grad_out, x, weight, mean, invstd,
                                  ctx.segments, sums, count, grad_x)
        return (grad_x, grad_w, grad_b) + (None, ) * 9


def sync_domain_batch_norm(x: torch.Tensor, segments: List[Segment],
                           weight: Optional[torch.Tensor],
                           bias: Optional[torch.Tensor],
                           running_mean: Optional[torch.Tensor],
                           running_var: Optional[torch.Tensor],
                           num_batches_tracked: Optional[torch.Tensor],
                           momentum: Optional[float], eps: float,
                           update_stats: bool, num_domains: int,
                           group=None) -> torch.Tensor:
    """Per-domain batch norm with every domain's statistics over all ranks.

    Every rank of ``group`` must call it once per forward pass of the layer
    (with its own batch, which may lack some domains or be empty), as for
    ``torch.nn.SyncBatchNorm``.

    Args:
        x (torch.Tensor): This rank's input ``(N, C, ...)`` in domain order.
        segments (list[tuple[int, int, int]]): This rank's ``(domain, start,
            end)`` slices (domains absent here are simply not listed).
        weight (torch.Tensor, optional): Per-domain scales ``(t, C)``.
        bias (torch.Tensor, optional): Per-domain shifts ``(t, C)``.
        running_mean (torch.Tensor, optional): ``(t, C)``, updated in place
            for every domain present on any rank.
        running_var (torch.Tensor, optional): ``(t, C)``, likewise.
        num_batches_tracked (torch.Tensor, optional): ``(t,)`` counters.
        momentum (float, optional): Running-average momentum; ``None`` for a
            cumulative average.
        eps (float): Added to the variance.
        update_stats (bool): Whether to update running statistics.
        num_domains (int): Number of banks t (the size of the reduction).
        group (ProcessGroup, optional): Group to synchronize over; the
            default group if None.

    Returns:
        torch.Tensor: The normalized input, same shape and order as ``x``.
    """
    return SyncDomainBatchNormFunction.apply(x, weight, bias, running_mean,
                                             running_var, num_batches_tracked,
                                             segments, num_domains, momentum,
                                             eps, update_stats, group)
