"""Per-domain batch norm with Triton kernels (CUDA; the CPU under
``TRITON_INTERPRET=1``).

A training forward plus backward of one CN layer costs six kernel launches
and four allocations, for any number of domains and any order of the
samples: one buffer for the statistics and their partials, the two stages
of the statistics (:mod:`triton_reductions`), the output and
:func:`~triton_kernels.normalize_kernel`; one buffer for the gradient sums,
their partials and the parameter gradients, the two stages of the sums, the
input gradient and :func:`~triton_kernels.grad_input_kernel`. Nothing is
read back to the host. The kernels run as the custom ops of
:mod:`triton_ops`, with grids from :func:`~triton_plan.plan`.
"""
from typing import Optional, Tuple

import torch

from ...routing import DomainRoute
from . import triton_ops as ops
from .bank_state import BankState
from .base import DomainBatchNormBackend
from .common import Moments, dense
from .triton_plan import PlanLimits


def _split_stats(stats: torch.Tensor, t: int, c: int):
    """``(mean, var, invstd, count, samples)`` views of a stats buffer."""
    mean, var, invstd = stats[:3 * t * c].view(3, t, c).unbind()
    count, samples = stats[3 * t * c:3 * t * c + 2 * t].view(2, t).unbind()
    return mean, var, invstd, count, samples


class TritonBackend(DomainBatchNormBackend):
    """The Triton kernels (any domain order).

    Args:
        limits (PlanLimits): What the launch plans aim for; small tiles make
            tests run the split reductions at small sizes. Default:
            PlanLimits().
    """
    name = 'triton'
    any_order = True

    def __init__(self, limits: PlanLimits = PlanLimits()):
        self.limits = list(limits)

    def unsupported(self, x: torch.Tensor, state: BankState) -> Optional[str]:
        if ops.triton is None:
            return 'triton is not installed (pip install triton)'
        if x.device.type == 'cpu' and not ops.interpreted():
            return ('a CPU tensor: the Triton kernels run on CUDA, or on the '
                    'CPU when TRITON_INTERPRET=1 is set before cn_seg is '
                    'imported')
        if x.device.type not in ('cpu', 'cuda'):
            return f'a {x.device.type} tensor'
        if x.dtype not in ops.DTYPES:
            return f'{x.dtype} input'
        return None

    @staticmethod
    def _tensors(x, route):
        return route.on(x.device)

    def _stats(self, x, route, state: Optional[BankState], t):
        on = self._tensors(x, route)
        update = state is not None and state.update_stats and \
            state.running_mean is not None
        momentum_none = update and state.momentum is None and \
            state.num_batches_tracked is not None
        stats = ops.triton_bn_stats(
            x, on.domain_idx, t, state.running_mean if update else None,
            state.running_var if update else None,
            state.num_batches_tracked if update else None,
            0.0 if not update or state.momentum is None else state.momentum,
            momentum_none, state.eps if state is not None else 0.0, update,
            self.limits)
        return _split_stats(stats, t, x.shape[1])

    def forward(
            self, x: torch.Tensor, route: DomainRoute,
            state: BankState) -> Tuple[torch.Tensor, Moments, torch.Tensor]:
        t = state.num_domains
        mean, var, invstd, count, samples = self._stats(x, route, state, t)
        counting = state.update_stats and state.running_mean is not None
        y = ops.triton_bn_normalize(
            x,
            self._tensors(x, route).domain_idx, mean, invstd, samples,
            dense(state.weight), dense(state.bias),
            state.num_batches_tracked if counting else None, self.limits)
        return y, Moments(count, mean, var), invstd

    def moments(self, x, route, num_domains):
        mean, var, _, count, _ = self._stats(x, route, None, num_domains)
        return Moments(count, mean, var)

    def normalize(self, x, route, weight, bias, mean, invstd):
        return ops.triton_bn_normalize(x,
                                       self._tensors(x, route).domain_idx,
                                       mean.contiguous(), invstd.contiguous(),
                                       mean.new_zeros(0), dense(weight),
                                       dense(bias), None, self.limits)

    def _grad_sums(self, grad_out, x, route, mean, invstd, weight):
        param_dtype = None if weight is None else weight.dtype
        buf = ops.triton_bn_grad_sums(grad_out, x,
                                      self._tensors(x, route).domain_idx,
                                      mean.contiguous(), invstd.contiguous(),
                                      param_dtype, self.limits)
        t, c = mean.shape
        sums_bytes = t * 2 * c * mean.element_size()
        sums = buf[:sums_bytes].view(mean.dtype).view(t, 2 * c)
        grads = None
        if weight is not None:
            grads = buf[buf.numel() - 2 * t * c * weight.element_size():]
            grads = grads.view(weight.dtype).view(2, t, c)
        return sums, grads

    def grad_sums(self, grad_out, x, route, mean, invstd):
        return self._grad_sums(grad_out, x, route, mean, invstd, None)[0]

    def backward(self, grad_out, x, route, weight, mean, invstd, count, needs):
        # The parameter gradients come from the kernel in their own dtype.
        sums, grads = self._grad_sums(grad_out, x, route, mean, invstd,
                                      weight if needs[1] or needs[2] else None)
        grad_x = self.grad_input(grad_out, x, route, weight, mean, invstd,
                                 sums, count) if needs[0] else None
        return (grad_x, grads[0] if needs[1] else None,
                grads[1] if needs[2] else None)

    def grad_input(self, grad_out, x, route, weight, mean, invstd, sums,
                   count):
        return ops.triton_bn_grad_input(grad_out, x,
                                        self._tensors(x, route).domain_idx,
                                        mean.contiguous(), invstd.contiguous(),
                                        sums.contiguous(), count.contiguous(),
                                        dense(weight), self.limits)
