"""Per-domain batch norm on the CPU: one fused kernel pass per channel.

The C++ kernels (``cn_seg/csrc/domain_batch_norm.cpp``) take the batch in any
domain order: for each channel they reduce every domain's rows and then
normalize them (forward) or write their input gradient (backward) while the
rows are still in cache. The data cross memory as often as in ATen's own
batch norm, and an interleaved batch costs no gather or scatter.
"""
from typing import List, Optional

import torch

from . import kernels
from .domain_batch_norm import _param_grads, bank_momentum
from .domain_route import Segment


class CPUDomainBatchNormFunction(torch.autograd.Function):
    """``forward(x, weight, bias, domain, num_domains, eps)``.

    Returns the normalized batch and, as non-differentiable outputs, the
    per-domain batch mean and biased variance ``(num_domains, C)`` (zeros
    for domains absent from the batch).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: Optional[torch.Tensor],
                bias: Optional[torch.Tensor], domain: torch.Tensor,
                num_domains: int, eps: float):
        x = x.contiguous()
        out, mean, var, invstd = kernels._C.domain_bn_forward(
            x, domain, num_domains, weight, bias, eps)
        ctx.save_for_backward(x, domain, weight, mean, invstd)
        ctx.mark_non_differentiable(mean, var)
        return out, mean, var

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor, *_):
        x, domain, weight, mean, invstd = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x, sums = kernels._C.domain_bn_backward(
            grad_out.contiguous(), x, domain, weight, mean, invstd, need_x)
        grad_w = grad_b = None
        if need_w or need_b:
            grad_w, grad_b = _param_grads(sums, weight, need_w, need_b)
        return grad_x, grad_w, grad_b, None, None, None


def cpu_domain_batch_norm(x: torch.Tensor, domain: torch.Tensor,
                          segments: List[Segment], num_domains: int,
                          weight: Optional[torch.Tensor],
                          bias: Optional[torch.Tensor],
                          running_mean: Optional[torch.Tensor],
                          running_var: Optional[torch.Tensor],
                          num_batches_tracked: Optional[torch.Tensor],
                          momentum: Optional[float], eps: float,
                          update_stats: bool) -> torch.Tensor:
    """Normalize each sample with its domain's batch statistics (CPU).

    The CPU counterpart of :func:`domain_batch_norm.domain_batch_norm`: the
    state and options (``weight`` to ``update_stats``) are as documented
    there; only the batch layout differs.

    Args:
        x (torch.Tensor): Float32/float64 CPU input ``(N, C, ...)``, samples
            in any domain order.
        domain (torch.Tensor): ``(N,)`` CPU LongTensor, the bank of each
            sample.
        segments (list[tuple[int, int, int]]): The route's ``(domain, start,
            end)`` runs; their order is the order the banks are updated in
            (which matters for ``share_state``), their lengths the counts.
        num_domains (int): Number of banks t.

    Returns:
        torch.Tensor: The normalized batch, same shape and order as ``x``.
    """
    out, mean, var = CPUDomainBatchNormFunction.apply(x, weight, bias, domain,
                                                      num_domains, eps)
    if update_stats and running_mean is not None:
        per_channel = x[0].numel() // max(x.shape[1], 1)
        with torch.no_grad():
            for k, start, end in segments:
                # As ATen: unbiased variance, running = (1 - f) * running +
                # f * batch.
                factor = bank_momentum(num_batches_tracked, k, momentum)
                n = (end - start) * per_channel
                new_var = var[k] * (n / max(n - 1, 1))
                for buf, new in ((running_mean[k], mean[k]),
                                 (running_var[k], new_var)):
                    buf.mul_(1 - factor).add_(new.to(buf.dtype),
                                              alpha=factor)
    return out
