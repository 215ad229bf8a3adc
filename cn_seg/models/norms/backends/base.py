"""The interface every per-domain batch-norm backend implements."""
import abc
from typing import Optional, Tuple

import torch

from ...routing import DomainRoute
from .bank_state import BankState
from .common import Moments, param_grads, update_running_stats


class DomainBatchNormBackend(abc.ABC):
    """Training-mode batch norm with one bank of statistics per domain.

    A backend computes, for a batch whose sample ``i`` belongs to bank
    ``route.domains[i]``, the pieces below; the autograd function in
    ``function.py`` composes them (and, for a layer synchronized across
    processes, all-reduces the statistics and the gradient sums between
    them). Backends with :attr:`any_order` take the batch in any domain order;
    the others get it gathered into domain order (``route.segments`` then
    index it) and their output is scattered back.

    Subclasses implement :meth:`unsupported`, :meth:`moments`,
    :meth:`normalize`, :meth:`grad_sums` and :meth:`grad_input`, and may fuse
    :meth:`forward` and :meth:`backward`.
    """
    #: str: The name ``CN_SEG_BACKEND`` selects the backend by.
    name = ''
    #: bool: Whether the pieces take the batch in any domain order.
    any_order = True

    @abc.abstractmethod
    def unsupported(self, x: torch.Tensor, state: BankState) -> Optional[str]:
        """Why this backend cannot take ``x``, or None if it can."""

    @abc.abstractmethod
    def moments(self, x: torch.Tensor, route: DomainRoute,
                num_domains: int) -> Moments:
        """Per-domain count, mean and biased variance of ``x``."""

    @abc.abstractmethod
    def normalize(self, x: torch.Tensor, route: DomainRoute,
                  weight: Optional[torch.Tensor], bias: Optional[torch.Tensor],
                  mean: torch.Tensor, invstd: torch.Tensor) -> torch.Tensor:
        """``(x - mean[k]) * invstd[k] * weight[k] + bias[k]`` per sample."""

    @abc.abstractmethod
    def grad_sums(self, grad_out: torch.Tensor, x: torch.Tensor,
                  route: DomainRoute, mean: torch.Tensor,
                  invstd: torch.Tensor) -> torch.Tensor:
        """``(t, 2C)``: per domain ``sum(dy)``, then ``sum(dy * x_hat)``."""

    @abc.abstractmethod
    def grad_input(self, grad_out: torch.Tensor, x: torch.Tensor,
                   route: DomainRoute, weight: Optional[torch.Tensor],
                   mean: torch.Tensor, invstd: torch.Tensor,
                   sums: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
        """The input gradient from the (possibly all-reduced) sums."""

    def forward(
            self, x: torch.Tensor, route: DomainRoute,
            state: BankState) -> Tuple[torch.Tensor, Moments, torch.Tensor]:
        """A local (unsynchronized) training pass: ``(out, moments,
        invstd)``; updates the present banks' running statistics."""
        moments = self.moments(x, route, state.num_domains)
        update_running_stats(
            state, moments, route.sample_counts_on(x.device,
                                                   state.num_domains))
        invstd = moments.invstd(state.eps)
        out = self.normalize(x, route, state.weight, state.bias, moments.mean,
                             invstd)
        return out, moments, invstd

    def backward(self, grad_out: torch.Tensor, x: torch.Tensor,
                 route: DomainRoute, weight: Optional[torch.Tensor],
                 mean: torch.Tensor, invstd: torch.Tensor, count: torch.Tensor,
                 needs: Tuple[bool, bool, bool]):
        """``(grad_input, grad_weight, grad_bias)`` of a local pass, each
        None unless ``needs`` says so."""
        sums = self.grad_sums(grad_out, x, route, mean, invstd)
        grad_w, grad_b = param_grads(sums, weight, needs[1], needs[2])
        grad_x = self.grad_input(grad_out, x, route, weight, mean, invstd,
                                 sums, count) if needs[0] else None
        return grad_x, grad_w, grad_b
