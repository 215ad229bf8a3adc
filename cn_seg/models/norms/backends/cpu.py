"""Per-domain batch norm on the CPU: one fused kernel pass per channel.

The C++ kernels (``cn_seg/csrc/domain_batch_norm.cpp``) take the batch in any
domain order: for each channel they reduce every domain's rows and then
normalize them (forward) or write their input gradient (backward) while the
rows are still in cache. The data cross memory as often as in ATen's own
batch norm, and an interleaved batch costs no gather or scatter.
"""
from typing import Optional, Tuple

import torch

from ...routing import DomainRoute
from . import cpu_ops
from .bank_state import BankState
from .base import DomainBatchNormBackend
from .common import (Moments, dense, grad_input_coefficients, param_grads,
                     per_channel, update_running_stats)


class CPUBackend(DomainBatchNormBackend):
    """The fused C++ kernels for float32/float64 CPU tensors."""
    name = 'cpu'
    any_order = True

    def unsupported(self, x: torch.Tensor, state: BankState) -> Optional[str]:
        if not cpu_ops.available:
            return ('cn_seg._C was not built (install cn_seg with `pip '
                    'install --no-build-isolation -e .` with torch installed '
                    'first)')
        if x.device.type != 'cpu':
            return f'a {x.device.type} tensor (the kernels run on the CPU)'
        if x.dtype not in (torch.float32, torch.float64):
            return f'{x.dtype} input (the kernels take float32 and float64)'
        return None

    @staticmethod
    def _domain(route: DomainRoute) -> torch.Tensor:
        return route.on(torch.device('cpu')).domain_idx

    @staticmethod
    def _count(x, route, num_domains):
        samples = route.sample_counts_on(x.device, num_domains)
        return samples.to(x.dtype) * per_channel(x)

    def forward(
            self, x: torch.Tensor, route: DomainRoute,
            state: BankState) -> Tuple[torch.Tensor, Moments, torch.Tensor]:
        t = state.num_domains
        out, mean, var, invstd = cpu_ops.domain_bn_forward(
            x.contiguous(), self._domain(route), t, dense(state.weight),
            dense(state.bias), state.eps)
        moments = Moments(self._count(x, route, t), mean, var)
        update_running_stats(state, moments,
                             route.sample_counts_on(x.device, t))
        return out, moments, invstd

    def backward(self, grad_out, x, route, weight, mean, invstd, count, needs):
        grad_x, sums = cpu_ops.domain_bn_backward(grad_out.contiguous(),
                                                  x.contiguous(),
                                                  self._domain(route),
                                                  dense(weight), mean, invstd,
                                                  needs[0])
        grad_w, grad_b = param_grads(sums, weight, needs[1], needs[2])
        return (grad_x if needs[0] else None), grad_w, grad_b

    def moments(self, x: torch.Tensor, route: DomainRoute,
                num_domains: int) -> Moments:
        mean, var = cpu_ops.domain_bn_moments(x.contiguous(),
                                              self._domain(route), num_domains)
        return Moments(self._count(x, route, num_domains), mean, var)

    def normalize(self, x, route, weight, bias, mean, invstd):
        return cpu_ops.domain_bn_normalize(x.contiguous(), self._domain(route),
                                           mean.to(x.dtype),
                                           invstd.to(x.dtype), dense(weight),
                                           dense(bias))

    def grad_sums(self, grad_out, x, route, mean, invstd):
        return cpu_ops.domain_bn_backward(grad_out.contiguous(),
                                          x.contiguous(), self._domain(route),
                                          None, mean.to(x.dtype),
                                          invstd.to(x.dtype), False)[1]

    def grad_input(self, grad_out, x, route, weight, mean, invstd, sums,
                   count):
        a, b, d = grad_input_coefficients(weight, mean, invstd, sums, count)
        d = d - b * mean  # a * dy + b * x + d
        return cpu_ops.domain_affine(grad_out.contiguous(), x.contiguous(),
                                     a.to(x.dtype), b.to(x.dtype),
                                     d.to(x.dtype), self._domain(route))
