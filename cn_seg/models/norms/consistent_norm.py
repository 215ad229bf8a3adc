"""Consistent Normalization (CN): one bank of normalization state per domain.

Paper: "Consistent Normalization", Section 4.2 and Algorithm 1. Each CN
layer keeps t groups of normalization state (mu, sigma, gamma, beta), one per
data domain; a sample is normalized with the group of its domain, and
inference uses one group only, at the cost of the plain norm.
"""
import copy
from typing import Optional

import torch
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.registry import MODELS
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

from .cpu_domain_batch_norm import cpu_domain_batch_norm
from .domain_batch_norm import domain_batch_norm
from .domain_route import DomainRoute
from .kernels import cpu_kernels_for
from .sync_domain_batch_norm import sync_domain_batch_norm, sync_world

_ROUTING_HELP = (
    'Route the batch: in a config add '
    "`custom_hooks = [dict(type='DomainRoutingHook')]` so that each sample "
    "is normalized with the bank of `data_sample.metainfo['domain_idx']`; in "
    'code wrap the forward in '
    '`with cn_seg.domain_routing(model, domain_idx):`.')


@MODELS.register_module('CN')
@MODELS.register_module()
class ConsistentNorm(_BatchNorm):
    """Consistent Normalization: a norm layer with one bank per domain.

    Wraps the norm a model would use (BN, SyncBN, GN, LN or IN, given as
    ``norm_cfg``). Batch norms get per-domain statistics and affine parameters;
    sample-wise norms (GN, LN, IN) get per-domain affine parameters. Sample
    ``i`` of a batch is normalized with bank ``domain_idx[i]`` as set by
    :func:`cn_seg.domain_routing` (or by ``DomainRoutingHook`` from each data
    sample's ``metainfo['domain_idx']``); the whole mixed batch goes through
    one forward pass. In eval mode without routing every sample uses
    ``eval_domain``, so inference costs what the plain norm costs.

    The state keeps the wrapped norm's names (``weight``, ``bias``,
    ``running_mean``, ``running_var``, ``num_batches_tracked``) with a leading
    domain dimension, and ``build_norm_layer`` names the layer ``bn``, so
    model code and checkpoint keys look as they do without CN. A checkpoint of
    the plain model fills every bank; a CN checkpoint restores every bank.

    It is a ``_BatchNorm`` so that ``norm_eval``, ``frozen_stages`` and the
    optimizer's norm weight-decay options treat it as the norm it replaces.

    Example:
        >>> norm_cfg = dict(type='CN', num_domains=2, norm_cfg=dict(type='BN'))
        >>> name, layer = build_norm_layer(norm_cfg, 64, postfix=1)  # 'bn1'

    Args:
        num_features (int): Number of channels (normalized shape for LN).
        num_domains (int): Number of banks t. Default: 2.
        norm_cfg (dict): The wrapped norm, e.g. ``dict(type='SyncBN')``; its
            eps, momentum, affine and track_running_stats are used.
            Default: ``dict(type='BN')``.
        eval_domain (int): Bank used by unrouted eval-mode inputs. Default: 0.
        eps (float): Used when ``norm_cfg`` sets no eps. Default: 1e-5.
        requires_grad (bool): Whether the affine parameters are trained.
            Default: True.
        share_state (bool): Ablation: keep one set of affine parameters and
            running statistics for all domains, so that only the batch
            statistics are per domain (Algorithm 1 without banks, the
            setting of the paper's BN rows). Default: False.
    """
    _abbr_ = 'bn'
    routed_by_domain = True  # domain_routing hands it the batch's route

    def __init__(self,
                 num_features: int,
                 num_domains: int = 2,
                 norm_cfg: Optional[dict] = None,
                 eval_domain: int = 0,
                 eps: float = 1e-5,
                 requires_grad: bool = True,
                 share_state: bool = False):
        nn.Module.__init__(self)
        if not isinstance(num_domains, int) or num_domains < 1:
            raise ValueError('CN needs num_domains >= 1 (one bank per '
                             f'domain), got {num_domains!r}.')
        if not 0 <= eval_domain < num_domains:
            raise ValueError(f'CN eval_domain={eval_domain!r} must be in '
                             f'[0, num_domains={num_domains}).')
        norm_cfg = copy.deepcopy(norm_cfg or dict(type='BN'))
        if not isinstance(norm_cfg, dict) or 'type' not in norm_cfg:
            raise ValueError("CN's norm_cfg must be a dict with a 'type', "
                             f"such as dict(type='BN'), got {norm_cfg!r}.")
        if norm_cfg['type'] in ('CN', ConsistentNorm):
            raise ValueError('CN cannot wrap another CN; set norm_cfg to the '
                             "plain norm, e.g. dict(type='BN').")
        norm_cfg.setdefault('eps', eps)
        inner = build_norm_layer(norm_cfg, num_features)[1]
        self.norm_cfg = norm_cfg
        self.num_domains = num_domains
        self.share_state = bool(share_state)
        self.eval_domain = eval_domain
        self.num_features = num_features
        self.eps = inner.eps
        self._init_kind(inner)
        self._init_banks(inner, requires_grad)
        self._route: Optional[DomainRoute] = None

    def _init_kind(self, inner: nn.Module) -> None:
        self.momentum = getattr(inner, 'momentum', None)
        self.track_running_stats = bool(
            getattr(inner, 'track_running_stats', False))
        self.process_group = getattr(inner, 'process_group', None)
        self.sync = isinstance(inner, nn.SyncBatchNorm) or \
            type(inner).__name__ == 'SyncBatchNorm'
        if isinstance(inner, _InstanceNorm):
            if self.track_running_stats:
                raise ValueError(
                    'CN supports IN without running statistics only; remove '
                    'track_running_stats=True from the inner norm_cfg.')
            self.kind = 'instance'
        elif isinstance(inner, _BatchNorm) or self.sync:
            self.kind = 'batch'
        elif isinstance(inner, nn.GroupNorm):
            self.kind, self.num_groups = 'group', inner.num_groups
        elif isinstance(inner, nn.LayerNorm):
            self.kind = 'layer'
            self.normalized_shape = tuple(inner.normalized_shape)
        else:
            raise ValueError(
                f'CN cannot wrap {type(inner).__name__} (from norm_cfg '
                f'{self.norm_cfg}); supported: BN, SyncBN, GN, LN, IN.')

    def _init_banks(self, inner: nn.Module, requires_grad: bool) -> None:
        """Copy the wrapped norm's initial state into every bank."""
        t = 1 if self.share_state else self.num_domains
        weight = getattr(inner, 'weight', None)
        self.affine = weight is not None
        for name in ('weight', 'bias'):
            value = getattr(inner, name, None)
            param = None if value is None else nn.Parameter(
                value.detach().unsqueeze(0).repeat(
                    t, *([1] * value.dim())),
                requires_grad=requires_grad and value.requires_grad)
            self.register_parameter(name, param)
        for name in ('running_mean', 'running_var', 'num_batches_tracked'):
            value = getattr(inner, name, None) \
                if self.track_running_stats else None
            self.register_buffer(
                name, None if value is None else value.unsqueeze(0).repeat(
                    t, *([1] * value.dim())).clone())

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

    def __getstate__(self):
        # A copy (e.g. an EMA model) must not share the route of a forward
        # pass that happens to be running: it is routed on its own.
        state = self.__dict__.copy()
        state['_route'] = None
        return state

    def _load_from_state_dict(self, state_dict, prefix, local_metadata,
                              strict, missing_keys, unexpected_keys,
                              error_msgs):
        # A plain norm's entry (no domain dimension) fills every bank.
        for name, tensor in list(self._parameters.items()) + list(
                self._buffers.items()):
            value = state_dict.get(prefix + name)
            if tensor is not None and isinstance(value, torch.Tensor) and \
                    value.shape == tensor.shape[1:]:
                state_dict[prefix + name] = value.unsqueeze(0).expand_as(
                    tensor)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalize each sample with the bank of its domain."""
        route = self._route
        if route is None:
            if self.training:
                raise RuntimeError(
                    f'CN layer ({self.num_domains} banks) got a training-mode '
                    f'input without domain routing. {_ROUTING_HELP}')
            return self._forward_bank(x, self.eval_domain)
        route.check(x.shape[0], self.num_domains, 'CN layer')
        if len(route.segments) == 1:
            return self._forward_bank(x, route.segments[0][0])
        if not (self.kind == 'batch' and self._uses_batch_stats()):
            return self._forward_per_sample(x, route)
        return self._batch_stats(x, route)

    def _state(self, name: str) -> Optional[torch.Tensor]:
        """A bank tensor indexed by domain (one shared row if share_state)."""
        value = getattr(self, name)
        if value is None or not self.share_state:
            return value
        return value.expand(self.num_domains, *value.shape[1:])

    def _uses_batch_stats(self) -> bool:
        return self.training or not self.track_running_stats

    def _batch_stats(self, x: torch.Tensor,
                     route: DomainRoute) -> torch.Tensor:
        """Batch norm of each domain's samples with their own statistics."""
        args = (self._state('weight'), self._state('bias'),
                self._state('running_mean'), self._state('running_var'),
                self._state('num_batches_tracked'), self.momentum, self.eps,
                self.training and self.track_running_stats)
        # As SyncBatchNorm: synchronize in training only.
        sync = self.sync and self.training and \
            sync_world(self.process_group) > 1
        if sync and self.share_state:
            raise ValueError(
                'CN share_state=True (one set of running statistics for all '
                'domains, an ablation) is not supported across processes: '
                'its banks are updated domain by domain in batch order. Use '
                "norm_cfg=dict(type='BN') for it, or share_state=False.")
        if not sync:  # synchronized, a bank's count is over all ranks
            self._check_batch_counts(x, route.segments)
        if not sync and cpu_kernels_for(x):  # any domain order, no copies
            return cpu_domain_batch_norm(x, route.domain_idx, route.segments,
                                         self.num_domains, *args)
        if route.grouped:
            return self._sliced_batch_stats(x, route.segments, args, sync)
        y = self._sliced_batch_stats(
            x.index_select(0, route.to('perm', x.device)), route.segments,
            args, sync)
        return y.index_select(0, route.to('inv_perm', x.device))

    def _sliced_batch_stats(self, x: torch.Tensor, segments, args,
                            sync: bool) -> torch.Tensor:
        """Per-domain batch norm of a batch in domain order (any device)."""
        if sync:
            return sync_domain_batch_norm(x, segments, *args,
                                          self.num_domains,
                                          self.process_group)
        return domain_batch_norm(x, segments, *args)

    def _check_batch_counts(self, x: torch.Tensor, segments) -> None:
        """Refuse a bank with one value per channel, as BatchNorm does."""
        if not self.training:
            return
        per_sample = x[0].numel() // max(x.shape[1], 1) if len(x) else 0
        for k, start, end in segments:
            if (end - start) * per_sample == 1:
                # nn.BatchNorm2d refuses this too: the variance of one value
                # is 0, so training normalizes to beta while evaluation uses
                # running statistics that never matched it.
                raise ValueError(
                    f'CN bank {k} got 1 value per channel in training (one '
                    f'sample of shape {tuple(x.shape[1:])}), so its batch '
                    'statistics are undefined. Give each domain more samples '
                    'per batch (samples_per_domain), or synchronize the banks '
                    "across GPUs with norm_cfg=dict(type='CN', "
                    "norm_cfg=dict(type='SyncBN')).")

    def _forward_bank(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """Every sample in bank ``k``: the wrapped norm's own computation."""
        if self.kind == 'batch' and self._uses_batch_stats():
            return self._batch_stats(x, DomainRoute([k] * x.shape[0]))
        k = 0 if self.share_state else k
        w = None if self.weight is None else self.weight[k]
        b = None if self.bias is None else self.bias[k]
        if self.kind == 'batch':
            return F.batch_norm(x, self.running_mean[k], self.running_var[k],
                                w, b, False, 0.0, self.eps)
        if self.kind == 'group':
            return F.group_norm(x, self.num_groups, w, b, self.eps)
        if self.kind == 'layer':
            return F.layer_norm(x, self.normalized_shape, w, b, self.eps)
        return F.instance_norm(x, weight=w, bias=b, eps=self.eps)

    def _forward_per_sample(self, x: torch.Tensor,
                            route: DomainRoute) -> torch.Tensor:
        """Mixed banks where no batch statistics are shared between samples.

        Running-statistics BN (eval mode) and sample-wise norms reduce to a
        per-sample scale and shift, applied in one fused ``addcmul`` pass.
        """
        idx = route.to('domain_idx', x.device)
        weight, bias = self._state('weight'), self._state('bias')
        if self.kind == 'batch':
            y = x
            scale = torch.rsqrt(self._state('running_var')[idx] + self.eps)
            if weight is not None:
                scale = scale * weight[idx]
            shift = -self._state('running_mean')[idx] * scale
            if bias is not None:
                shift = shift + bias[idx]
        else:
            if self.kind == 'group':
                y = F.group_norm(x, self.num_groups, None, None, self.eps)
            elif self.kind == 'layer':
                y = F.layer_norm(x, self.normalized_shape, None, None,
                                 self.eps)
            else:
                y = F.instance_norm(x, eps=self.eps)
            if not self.affine:
                return y
            scale, shift = weight[idx], bias[idx]
        if self.kind == 'layer':
            view = (x.shape[0], ) + (1, ) * (
                x.dim() - 1 - len(self.normalized_shape)) + \
                self.normalized_shape
        else:
            view = (x.shape[0], -1) + (1, ) * (x.dim() - 2)
        return torch.addcmul(shift.view(view), y, scale.view(view))

    def extra_repr(self) -> str:
        return (f'{self.num_features}, num_domains={self.num_domains}, '
                f"norm={self.norm_cfg['type']}, eval_domain="
                f'{self.eval_domain}, eps={self.eps}, momentum={self.momentum}'
                f', affine={self.affine}, track_running_stats='
                f'{self.track_running_stats}, share_state={self.share_state}')
