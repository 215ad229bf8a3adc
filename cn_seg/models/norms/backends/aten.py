"""Per-domain batch norm with ATen's own kernels on slices of the batch.

The generic backend: any device and dtype torch's batch norm takes (CUDA
without triton, half precision on the CPU, installs without ``cn_seg._C``).
The batch arrives in domain order; each domain's samples are one contiguous
slice, on which ATen's batch-norm kernels run without copies. The number of
kernel launches grows with the number of domains.
"""
from typing import Optional, Tuple

import torch

from ...routing import DomainRoute
from .bank_state import BankState
from .base import DomainBatchNormBackend
from .common import (Moments, acc_dtype, grad_input_coefficients, per_channel,
                     update_running_stats)

_native_bn = torch.ops.aten.native_batch_norm
_native_bn_backward = torch.ops.aten.native_batch_norm_backward


def _row(t: Optional[torch.Tensor], k: int) -> Optional[torch.Tensor]:
    return None if t is None else t[k]


def _view(x: torch.Tensor) -> tuple:
    """Shape that broadcasts a per-channel row over a slice of ``x``."""
    return (1, x.shape[1]) + (1, ) * (x.dim() - 2)


def _affine2(a, u, b, v, d, out=None):
    """``a * u + b * v + d`` in two fused passes."""
    out = torch.addcmul(d, v, b, out=out)
    return out.addcmul_(u, a)


def _write(out: torch.Tensor, op, *args) -> None:
    """``op(*args)`` into ``out``: directly when the per-channel rows have
    ``out``'s dtype, else computed in theirs (float32 for half inputs)
    and rounded once."""
    if args[0].dtype == out.dtype:
        op(*args, out=out)
    else:
        out.copy_(op(*args))


class AtenBackend(DomainBatchNormBackend):
    """ATen's batch-norm kernels on each domain's slice (any device)."""
    name = 'aten'
    any_order = False

    def unsupported(self, x: torch.Tensor, state: BankState) -> Optional[str]:
        if not x.dtype.is_floating_point:
            return f'{x.dtype} input (batch norm needs floating point)'
        return None

    def _counts(self, x, route, num_domains):
        samples = route.sample_counts_on(x.device, num_domains)
        return samples.to(acc_dtype(x.dtype)) * per_channel(x)

    def forward(
            self, x: torch.Tensor, route: DomainRoute,
            state: BankState) -> Tuple[torch.Tensor, Moments, torch.Tensor]:
        if x.device.type == 'cpu' and acc_dtype(x.dtype) != x.dtype:
            # ATen's CPU kernel takes half inputs only with half statistics.
            return super().forward(x, route, state)
        # One native batch norm per slice writes its output and statistics.
        num_domains, weight, bias, eps = state.num_domains, state.weight, \
            state.bias, state.eps
        x = x.contiguous()
        out = torch.empty_like(x)
        mean = x.new_zeros(num_domains, x.shape[1], dtype=acc_dtype(x.dtype))
        invstd = torch.full_like(mean, eps**-0.5)
        for k, start, end in route.segments:
            if end > start and per_channel(x):
                _native_bn.out(
                    x[start:end],
                    _row(weight, k),
                    _row(bias, k),
                    None,
                    None,
                    True,
                    0.0,
                    eps,
                    out=out[start:end],
                    save_mean=mean[k],
                    save_invstd=invstd[k])
        var = (invstd.pow(-2) - eps).clamp_(min=0)
        moments = Moments(self._counts(x, route, num_domains), mean, var)
        update_running_stats(state, moments,
                             route.sample_counts_on(x.device, num_domains))
        return out, moments, invstd

    def moments(self, x: torch.Tensor, route: DomainRoute,
                num_domains: int) -> Moments:
        x = x.contiguous()
        acc = acc_dtype(x.dtype)
        mean = x.new_zeros(num_domains, x.shape[1], dtype=acc)
        var = torch.zeros_like(mean)
        for k, start, end in route.segments:
            if end > start and per_channel(x):
                # Half inputs get float32 statistics when given float32
                # (scratch) running statistics, as in ATen's mixed precision.
                scratch = [None, None] if acc == x.dtype else \
                    x.new_zeros(2, x.shape[1], dtype=acc).unbind()
                mean[k], var[k] = torch.batch_norm_update_stats(
                    x[start:end], *scratch, 0.0)
        return Moments(self._counts(x, route, num_domains), mean, var)

    def normalize(self, x: torch.Tensor, route: DomainRoute,
                  weight: Optional[torch.Tensor], bias: Optional[torch.Tensor],
                  mean: torch.Tensor, invstd: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        scale = invstd if weight is None else invstd * weight
        shift = -mean * scale if bias is None else bias - mean * scale
        out = torch.empty_like(x)
        view = _view(x)
        for k, start, end in route.segments:
            _write(out[start:end], torch.addcmul, shift[k].view(view),
                   x[start:end], scale[k].view(view))
        return out

    def grad_sums(self, grad_out: torch.Tensor, x: torch.Tensor,
                  route: DomainRoute, mean: torch.Tensor,
                  invstd: torch.Tensor) -> torch.Tensor:
        # ATen's batch-norm backward asked for the parameter gradients only:
        # one reduction pass per slice (CPU and CUDA kernels alike).
        grad_out, x = grad_out.contiguous(), x.contiguous()
        t, c = mean.shape
        sums = torch.zeros(t, 2 * c, dtype=mean.dtype, device=x.device)
        ones = torch.ones(c, dtype=mean.dtype, device=x.device)
        for k, start, end in route.segments:
            if end > start and per_channel(x):
                _, sum_dy_xhat, sum_dy = _native_bn_backward(
                    grad_out[start:end], x[start:end], ones, None, None,
                    mean[k], invstd[k], True, 0.0, [False, True, True])
                sums[k, :c] = sum_dy
                sums[k, c:] = sum_dy_xhat
        return sums

    def grad_input(self, grad_out: torch.Tensor, x: torch.Tensor,
                   route: DomainRoute, weight: Optional[torch.Tensor],
                   mean: torch.Tensor, invstd: torch.Tensor,
                   sums: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
        grad_out, x = grad_out.contiguous(), x.contiguous()
        a, b, d = grad_input_coefficients(weight, mean, invstd, sums, count)
        d = d - b * mean  # a * dy + b * x + d
        grad_x = torch.empty_like(x)
        view = _view(x)
        for k, start, end in route.segments:
            _write(grad_x[start:end], _affine2, a[k].view(view),
                   grad_out[start:end], b[k].view(view), x[start:end],
                   d[k].view(view))
        return grad_x
