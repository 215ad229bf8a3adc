"""An ablation of CN: per-domain batch statistics, one set of state.

Paper: "Consistent Normalization", Table 6, the rows that normalize each
domain with its own batch statistics but keep one set of affine parameters
and running statistics (Algorithm 1 without banks). It is a layer of its own,
outside the production path: it runs ATen's batch norm on each domain's
samples in turn, as plain BN called on them one domain after the other.
"""
import copy
from typing import Optional

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..routing import DomainRouted, uniform_route
from .consistent_norm import ROUTING_HELP
from .plain_norms import build_plain_norm


class SharedStateConsistentNorm(DomainRouted, _BatchNorm):
    """BN whose training batches are normalized domain by domain.

    In training each domain's samples (``domain_idx`` as routed by
    :func:`cn_seg.domain_routing` or ``DomainRoutingHook``) are normalized
    with their own batch statistics, and the one set of running statistics
    takes one running-average step per domain, in the order of the route's
    segments. Evaluation uses the running statistics, as plain BN does. The
    state is a plain BN's (same names and shapes), so its checkpoints load
    into a model built with ``norm_cfg=dict(type='BN')``. In a config it is
    registered as ``SharedStateConsistentNorm`` (by
    :mod:`cn_seg.openmmlab.models.norms`).

    Example:
        >>> cfg = dict(type='SharedStateConsistentNorm', num_domains=2,
        ...            norm_cfg=dict(type='SyncBN'))

    Args:
        num_features (int): Number of channels.
        num_domains (int): Number of domains the route may name. Default: 2.
        norm_cfg (dict): The batch norm it replaces, ``dict(type='BN')`` or
            ``dict(type='SyncBN')``; its eps, momentum, affine and
            track_running_stats are used. Default: ``dict(type='BN')``.
        eps (float): Used when ``norm_cfg`` sets no eps. Default: 1e-5.
    """
    _abbr_ = 'bn'

    def __init__(self,
                 num_features: int,
                 num_domains: int = 2,
                 norm_cfg: Optional[dict] = None,
                 eps: float = 1e-5):
        norm_cfg = copy.deepcopy(norm_cfg or dict(type='BN'))
        norm_cfg.setdefault('eps', eps)
        inner = build_plain_norm(norm_cfg, num_features)
        if not isinstance(inner, _BatchNorm):
            raise ValueError(
                'SharedStateConsistentNorm wraps a batch norm (BN or SyncBN),'
                f" got norm_cfg={norm_cfg!r}; use type='CN' for GN, LN, IN.")
        if not isinstance(num_domains, int) or num_domains < 1:
            raise ValueError('SharedStateConsistentNorm needs num_domains >= '
                             f'1, got {num_domains!r}.')
        super().__init__(num_features, inner.eps, inner.momentum, inner.affine,
                         inner.track_running_stats)
        self.load_state_dict(inner.state_dict())
        self.num_domains = num_domains
        self.norm_cfg = norm_cfg
        self.sync = isinstance(inner, nn.SyncBatchNorm)
        self.process_group = getattr(inner, 'process_group', None)

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError('SharedStateConsistentNorm expects (N, C, ...) '
                             f'input, got shape {tuple(x.shape)}.')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Batch statistics per domain in training; running ones in eval."""
        if not (self.training or not self.track_running_stats):
            return super().forward(x)
        route = self.route
        if route is None:
            if self.training:
                raise RuntimeError(
                    'SharedStateConsistentNorm got a training-mode input '
                    f'without domain routing. {ROUTING_HELP}')
            route = uniform_route(0, x.shape[0])
        route.check(x.shape[0], self.num_domains, 'SharedStateConsistentNorm')
        if self.sync and self.training and torch.distributed.is_available() \
                and torch.distributed.is_initialized() and \
                torch.distributed.get_world_size(self.process_group) > 1:
            raise ValueError(
                'SharedStateConsistentNorm over SyncBN is not supported '
                'across processes: its one set of running statistics is '
                'updated domain by domain in batch order. Use '
                "norm_cfg=dict(type='BN') for it.")
        perm = route.on(x.device)
        xs = x if perm.perm is None else x.index_select(0, perm.perm)
        out = torch.cat([
            super(SharedStateConsistentNorm, self).forward(xs[start:end])
            for _, start, end in route.segments
        ])
        return out if perm.inv_perm is None else out.index_select(
            0, perm.inv_perm)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                              missing_keys, unexpected_keys, error_msgs):
        # Checkpoints of CN(share_state=True) stored each tensor as (1, C).
        for name in ('weight', 'bias', 'running_mean', 'running_var',
                     'num_batches_tracked'):
            value = state_dict.get(prefix + name)
            mine = getattr(self, name, None)
            if isinstance(value, torch.Tensor) and mine is not None and \
                    value.shape == (1, ) + tuple(mine.shape):
                state_dict[prefix + name] = value[0]
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def extra_repr(self) -> str:
        return (super().extra_repr() + f', num_domains={self.num_domains}, '
                f"norm={self.norm_cfg['type']}")
