"""Batch normalization with one bank per domain, on zero-copy slices of the batch.

Each domain's samples form a contiguous slice of the (domain-ordered) batch.
The forward and backward passes call ATen's native batch-norm kernels on those
slices and write into slices of one preallocated output, so CN does the same
memory traffic as a single ``nn.BatchNorm2d`` over the whole batch: no gather,
no scatter and no ``torch.cat``.
"""
from typing import List, Optional, Sequence

import torch

from .domain_route import Segment

_native_bn = torch.ops.aten.native_batch_norm
_native_bn_backward = torch.ops.aten.native_batch_norm_backward


def bank_momentum(num_batches_tracked: Optional[torch.Tensor], domain: int,
                  momentum: Optional[float]) -> float:
    """Count one more batch for a bank and return its running-average factor.

    Mirrors ``torch.nn.modules.batchnorm._BatchNorm``: ``momentum=None`` means a
    cumulative moving average (factor ``1 / num_batches_tracked``).

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
                segments: Sequence[Segment], factors: Sequence[Optional[float]],
                eps: float) -> torch.Tensor:
        x = x.contiguous()
        out = torch.empty_like(x)
        channels = x.shape[1]
        save_mean = x.new_empty(len(segments), channels, dtype=_acc(x))
        save_invstd = torch.empty_like(save_mean)
        for i, ((k, start, end), factor) in enumerate(zip(segments, factors)):
            update = factor is not None
            _native_bn.out(
                x[start:end], _row(weight, k), _row(bias, k),
                _row(running_mean, k) if update else None,
                _row(running_var, k) if update else None, True,
                factor if update else 0.0, eps,
                out=out[start:end], save_mean=save_mean[i],
                save_invstd=save_invstd[i])
        ctx.segments = segments
        ctx.eps = eps
        ctx.save_for_backward(x, weight, save_mean, save_invstd)
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        x, weight, save_mean, save_invstd = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x = torch.empty_like(x) if need_x else None
        grad_w = torch.zeros_like(weight) if need_w else None
        grad_b = torch.zeros_like(weight) if need_b else None
        for i, (k, start, end) in enumerate(ctx.segments):
            args = (grad_out[start:end], x[start:end], _row(weight, k), None,
                    None, save_mean[i], save_invstd[i], True, ctx.eps)
            if need_x:
                # The out= variant needs every output; the two per-channel
                # sums it adds are cheap beside the input gradient.
                _native_bn_backward.out(
                    *args, [True, True, True], out0=grad_x[start:end],
                    out1=_bank_slot(grad_w, x, k), out2=_bank_slot(grad_b, x, k))
            else:
                _, gw, gb = _native_bn_backward(*args, [False, need_w, need_b])
                if need_w:
                    grad_w[k] = gw
                if need_b:
                    grad_b[k] = gb
        return grad_x, grad_w, grad_b, None, None, None, None, None


def _acc(x: torch.Tensor) -> torch.dtype:
    """The dtype ATen keeps batch statistics in (float32 for half inputs)."""
    return torch.float32 if x.dtype in (torch.float16, torch.bfloat16) \
        else x.dtype


def _bank_slot(grad: Optional[torch.Tensor], x: torch.Tensor,
               k: int) -> torch.Tensor:
    """Where a bank's parameter gradient goes (scratch when none is needed)."""
    return grad[k] if grad is not None else x.new_empty(x.shape[1],
                                                         dtype=_acc(x))


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
