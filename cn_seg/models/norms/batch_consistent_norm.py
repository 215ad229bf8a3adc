"""CN over a batch norm (BN, SyncBN): per-domain statistics and affine."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

from ..routing import DomainRoute, uniform_route
from .backends import BankState, compiled_domain_batch_norm, domain_batch_norm
from .backends.common import check_counts, per_channel
from .consistent_norm import ConsistentNorm


class BatchConsistentNorm(ConsistentNorm, _BatchNorm):
    """The variant ``type='CN'`` builds for BN and SyncBN (see
    :class:`ConsistentNorm` for the arguments).

    In training (or without running statistics) each domain's samples are
    normalized with their own batch statistics by one of the backends of
    :mod:`.backends` in one pass over the mixed batch, and the running
    statistics of the banks present in the batch are updated; with SyncBN
    the statistics are synchronized across processes. In eval mode a batch
    of one domain costs one plain batch norm; a mixed batch is one per-sample
    scale and shift. It is a ``_BatchNorm``, so that ``norm_eval``,
    ``frozen_stages`` and the optimizer's norm weight-decay options treat it
    as the norm it replaces.
    """

    @classmethod
    def wraps(cls, norm_class: type) -> bool:
        return issubclass(norm_class, (_BatchNorm, nn.SyncBatchNorm)) and \
            not issubclass(norm_class, _InstanceNorm)

    def _init_from(self, inner: nn.Module) -> None:
        self.momentum = inner.momentum
        self.track_running_stats = bool(inner.track_running_stats)
        self.process_group = getattr(inner, 'process_group', None)
        self.sync = isinstance(inner, nn.SyncBatchNorm)

    def reset_running_stats(self) -> None:
        """Reset every bank's running statistics."""
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """Reset every bank's statistics and affine parameters."""
        self.reset_running_stats()
        if self.affine:
            nn.init.ones_(self.weight)
            nn.init.zeros_(self.bias)

    def _uses_batch_stats(self) -> bool:
        return self.training or not self.track_running_stats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalize each sample with the bank of its domain."""
        self._check_backend()
        route = self.route
        if route is None:
            k = self._unrouted()
            if self._uses_batch_stats():
                return self._batch_stats(x, uniform_route(k, x.shape[0]))
            return self._one_bank(x, k)
        route.check(x.shape[0], self.num_domains, 'CN layer')
        if self._uses_batch_stats():
            return self._batch_stats(x, route)
        if route.single_domain is not None:
            return self._one_bank(x, route.single_domain)
        return self._per_sample(x, route)

    def state_for_pass(self) -> BankState:
        """The banks as the backends take them, for this forward pass."""
        return BankState(
            weight=self.weight,
            bias=self.bias,
            running_mean=self.running_mean,
            running_var=self.running_var,
            num_batches_tracked=self.num_batches_tracked,
            momentum=self.momentum,
            eps=self.eps,
            num_domains=self.num_domains,
            update_stats=self.training and self.track_running_stats)

    def _batch_stats(self, x: torch.Tensor,
                     route: DomainRoute) -> torch.Tensor:
        """Batch norm of each domain's samples with their own statistics."""
        # As SyncBatchNorm: synchronize in training only.
        sync = self.sync and self.training
        if torch.compiler.is_compiling() and not sync:
            # ATen ops inductor fuses (counts are checked in eager only).
            on = route.on(x.device)
            return compiled_domain_batch_norm(x, on.onehot, on.samples,
                                              self.state_for_pass())
        if self.training and (not sync or _world(self.process_group) == 1):
            check_counts([
                n * per_channel(x)
                for n in route.sample_counts(self.num_domains)
            ], x.shape)
        return domain_batch_norm(x, route, self.state_for_pass(), sync,
                                 self.process_group, self.backend)

    def _one_bank(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """Every sample in bank ``k``, with its running statistics."""
        return F.batch_norm(x, self.running_mean[k], self.running_var[k],
                            _row(self.weight, k), _row(self.bias, k), False,
                            0.0, self.eps)

    def _per_sample(self, x: torch.Tensor, route: DomainRoute) -> torch.Tensor:
        """Mixed banks with running statistics: a per-sample scale and shift
        applied in one fused ``addcmul`` pass."""
        idx = route.on(x.device).domain_idx
        scale = torch.rsqrt(self.running_var[idx] + self.eps)
        if self.weight is not None:
            scale = scale * self.weight[idx]
        shift = -self.running_mean[idx] * scale
        if self.bias is not None:
            shift = shift + self.bias[idx]
        view = (x.shape[0], x.shape[1]) + (1, ) * (x.dim() - 2)
        return torch.addcmul(shift.view(view), x, scale.view(view))

    def extra_repr(self) -> str:
        return (super().extra_repr() + f', momentum={self.momentum}, '
                f'track_running_stats={self.track_running_stats}')


def _row(t: Optional[torch.Tensor], k: int) -> Optional[torch.Tensor]:
    return None if t is None else t[k]


def _world(group) -> int:
    from .backends import sync_world
    return sync_world(group)
