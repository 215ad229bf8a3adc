"""Training-mode per-domain batch norm: the autograd function over a backend.

:func:`domain_batch_norm` is what a CN layer calls: it picks the backend
(:mod:`selection`) and runs it locally, or synchronized across processes
(CN over SyncBN): the moments and the gradient sums are all-reduced between
the backend's pieces (:mod:`sync`).
"""
from typing import Optional

import torch

from ...routing import DomainRoute
from .bank_state import BankState
from .base import DomainBatchNormBackend
from .common import (check_counts, param_grads, per_channel,
                     update_running_stats)
from .selection import select_backend
from .sync import all_reduce_moments, all_reduce_sums, sync_world


class DomainBatchNormFunction(torch.autograd.Function):
    """``apply(x, weight, bias, route, state, backend, sync, group)``.

    ``weight`` and ``bias`` are ``state.weight`` and ``state.bias``, given
    again so that autograd sees them; ``sync`` says whether the statistics
    are synchronized over the process group ``group``.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: Optional[torch.Tensor],
                bias: Optional[torch.Tensor], route: DomainRoute,
                state: BankState, backend: DomainBatchNormBackend, sync: bool,
                group):
        reorder = not backend.any_order and not route.grouped
        if reorder:  # the backend's pieces take the batch in domain order
            x = x.index_select(0, route.on(x.device).perm)
        t = state.num_domains
        if not sync:
            out, moments, invstd = backend.forward(x, route, state)
        else:
            moments, samples = all_reduce_moments(
                backend.moments(x, route, t),
                route.sample_counts_on(x.device, t), group)
            if per_channel(x) == 1:  # only then can a bank have 1 value
                check_counts(moments.count.tolist(), x.shape)
            update_running_stats(state, moments, samples)
            invstd = moments.invstd(state.eps)
            out = backend.normalize(x, route, weight, bias, moments.mean,
                                    invstd)
        if reorder:
            out = out.index_select(0, route.on(x.device).inv_perm)
        ctx.save_for_backward(x, weight, moments.mean, invstd, moments.count)
        ctx.route, ctx.backend, ctx.group = route, backend, group
        ctx.reorder, ctx.sync = reorder, sync
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        x, weight, mean, invstd, count = ctx.saved_tensors
        route, backend, group = ctx.route, ctx.backend, ctx.group
        on = route.on(grad_out.device)
        if ctx.reorder:
            grad_out = grad_out.index_select(0, on.perm)
        needs = tuple(ctx.needs_input_grad[:3])
        if not ctx.sync:
            grad_x, grad_w, grad_b = backend.backward(grad_out, x, route,
                                                      weight, mean, invstd,
                                                      count, needs)
        else:
            sums = backend.grad_sums(grad_out, x, route, mean, invstd)
            # This rank's share, as for SyncBatchNorm: the data-parallel
            # wrapper reduces parameter gradients like any other's.
            grad_w, grad_b = param_grads(sums.clone(), weight, needs[1],
                                         needs[2])
            grad_x = None
            if needs[0]:  # the same on every rank, since the model is
                grad_x = backend.grad_input(grad_out, x, route, weight,
                                            mean, invstd,
                                            all_reduce_sums(sums,
                                                            group), count)
        if ctx.reorder and grad_x is not None:
            grad_x = grad_x.index_select(0, on.inv_perm)
        return grad_x, grad_w, grad_b, None, None, None, None, None


def domain_batch_norm(x: torch.Tensor,
                      route: DomainRoute,
                      state: BankState,
                      synchronized: bool = False,
                      process_group=None,
                      backend: Optional[str] = None) -> torch.Tensor:
    """Normalize each sample with its domain's batch statistics.

    Args:
        x (torch.Tensor): The layer input ``(N, C, ...)``, samples in any
            domain order.
        route (DomainRoute): The batch's route.
        state (BankState): The layer's banks (running statistics updated in
            place for the banks present in the batch).
        synchronized (bool): Whether the statistics are synchronized across
            the processes of ``process_group`` (CN over SyncBN); ignored
            outside a process group of more than one process. Every rank
            must then call it once per forward pass of the layer, with its
            own batch (which may lack some domains or be empty).
        process_group (ProcessGroup, optional): The group; default if None.
        backend (str, optional): The layer's ``backend=``; None follows
            ``CN_SEG_BACKEND`` (see :mod:`selection`).

    Returns:
        torch.Tensor: The normalized batch, same shape and order as ``x``.

    Raises:
        ValueError: If ``backend`` or ``CN_SEG_BACKEND`` names no backend or
            one that cannot take ``x``, or a synchronized bank gets one value
            per channel.
    """
    sync = synchronized and sync_world(process_group) > 1
    chosen = select_backend(x, backend)
    return DomainBatchNormFunction.apply(x, state.weight, state.bias, route,
                                         state, chosen, sync, process_group)
