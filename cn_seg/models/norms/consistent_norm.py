"""Consistent Normalization (CN): one bank of normalization state per domain.

Paper: "Consistent Normalization", Section 4.2 and Algorithm 1. Each CN
layer keeps t groups of normalization state (mu, sigma, gamma, beta), one per
data domain; a sample is normalized with the group of its domain, and
inference uses one group only, at the cost of the plain norm.
"""
import copy
from typing import Optional

import torch
from torch import nn

from ..routing import DomainRouted
from .backends.selection import backend_choice, check_choice
from .plain_norms import build_plain_norm, plain_norm_class

ROUTING_HELP = (
    'Route the batch: in a config add '
    "`custom_hooks = [dict(type='DomainRoutingHook')]` so that each sample "
    "is normalized with the bank of `data_sample.metainfo['domain_idx']`; in "
    'code wrap the forward in '
    '`with cn_seg.domain_routing(model, domain_idx):`.')


def _inner_class(norm_cfg) -> type:
    """The class ``norm_cfg`` builds, checked to be a norm CN can wrap."""
    kind = norm_cfg.get('type') if isinstance(norm_cfg, dict) else None
    if kind in ('CN', 'ConsistentNorm') or (isinstance(kind, type) and
                                            issubclass(kind, ConsistentNorm)):
        raise ValueError(f'CN cannot wrap another CN (norm_cfg type {kind!r})'
                         "; set norm_cfg to the plain norm, e.g. "
                         "dict(type='BN').")
    return plain_norm_class(norm_cfg)


class ConsistentNorm(DomainRouted, nn.Module):
    """Consistent Normalization: a norm layer with one bank per domain.

    Wraps the norm a model would use (BN, SyncBN, GN, LN or IN, given as
    ``norm_cfg``); building ``type='CN'`` gives the variant for it: batch
    norms become a :class:`BatchConsistentNorm` (per-domain statistics and
    affine parameters), sample-wise norms (GN, LN, IN) an
    :class:`AffineConsistentNorm` (per-domain affine parameters). Sample
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

    ``ConsistentNorm(...)`` builds the variant for the wrapped norm, the
    subclass whose :meth:`wraps` accepts its class. In a config it is
    registered as ``CN`` and ``ConsistentNorm`` (by
    :mod:`cn_seg.openmmlab.models.norms`).

    Example:
        >>> layer = ConsistentNorm(64, num_domains=2, norm_cfg=dict(type='BN'))
        >>> # in a config: norm_cfg = dict(type='CN', num_domains=2)

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
        backend (str, optional): This layer's batch-norm backend (``'cpu'``,
            ``'triton'``, ``'aten'`` or ``'auto'``), over ``CN_SEG_BACKEND``;
            see ``docs/backends.md``. Default: None (``CN_SEG_BACKEND``, else
            automatic).
    """
    _abbr_ = 'bn'

    def __new__(cls, *args, **kwargs):
        if cls is ConsistentNorm:  # type='CN': the variant for the norm
            norm_cfg = kwargs.get('norm_cfg', args[2] if len(args) > 2 else
                                  None) or dict(type='BN')
            inner = _inner_class(norm_cfg)
            variants = [v for v in cls.__subclasses__() if v.wraps(inner)]
            if not variants:
                raise ValueError(
                    f'CN cannot wrap {inner.__name__} (from norm_cfg '
                    f'{norm_cfg}); supported: BN, SyncBN, GN, LN, IN.')
            cls = variants[0]
        return super().__new__(cls)

    @classmethod
    def wraps(cls, norm_class: type) -> bool:
        """Whether this variant holds the state of ``norm_class`` layers."""
        return False

    def __init__(self,
                 num_features: int,
                 num_domains: int = 2,
                 norm_cfg: Optional[dict] = None,
                 eval_domain: int = 0,
                 eps: float = 1e-5,
                 requires_grad: bool = True,
                 backend: Optional[str] = None):
        nn.Module.__init__(self)
        if not isinstance(num_domains, int) or num_domains < 1:
            raise ValueError('CN needs num_domains >= 1 (one bank per '
                             f'domain), got {num_domains!r}.')
        if not 0 <= eval_domain < num_domains:
            raise ValueError(f'CN eval_domain={eval_domain!r} must be in '
                             f'[0, num_domains={num_domains}).')
        norm_cfg = copy.deepcopy(norm_cfg or dict(type='BN'))
        _inner_class(norm_cfg)
        norm_cfg.setdefault('eps', eps)
        inner = build_plain_norm(norm_cfg, num_features)
        self.norm_cfg = norm_cfg
        self.num_domains = num_domains
        self.backend = None if backend is None else check_choice(
            str(backend), 'CN backend=')
        self.eval_domain = eval_domain
        self.num_features = num_features
        self.eps = inner.eps
        self._init_from(inner)
        self._init_banks(inner, requires_grad)

    def _init_from(self, inner: nn.Module) -> None:
        """Take the variant's settings from the wrapped norm ``inner``."""

    def _init_banks(self, inner: nn.Module, requires_grad: bool) -> None:
        """Copy the wrapped norm's initial state into every bank."""
        t = self.num_domains
        self.affine = getattr(inner, 'weight', None) is not None
        for name in ('weight', 'bias'):
            value = getattr(inner, name, None)
            param = None if value is None else nn.Parameter(
                value.detach().unsqueeze(0).repeat(t, *([1] * value.dim())),
                requires_grad=requires_grad and value.requires_grad)
            self.register_parameter(name, param)
        for name in ('running_mean', 'running_var', 'num_batches_tracked'):
            value = getattr(inner, name, None)
            self.register_buffer(
                name, None if value is None else value.unsqueeze(0).repeat(
                    t, *([1] * value.dim())).clone())

    def _check_backend(self) -> None:
        """Refuse a ``CN_SEG_BACKEND`` that names no backend, in any mode."""
        if not torch.compiler.is_compiling():
            backend_choice(self.backend)

    def _unrouted(self) -> int:
        """The bank of an unrouted input (eval mode only)."""
        if self.training:
            raise RuntimeError(
                f'CN layer ({self.num_domains} banks) got a training-mode '
                f'input without domain routing. {ROUTING_HELP}')
        return self.eval_domain

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                              missing_keys, unexpected_keys, error_msgs):
        # A plain norm's entry (no domain dimension) fills every bank.
        for name, tensor in list(self._parameters.items()) + list(
                self._buffers.items()):
            value = state_dict.get(prefix + name)
            if tensor is not None and isinstance(value, torch.Tensor) and \
                    value.shape == tensor.shape[1:]:
                state_dict[prefix +
                           name] = value.unsqueeze(0).expand_as(tensor)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def extra_repr(self) -> str:
        return (f'{self.num_features}, num_domains={self.num_domains}, '
                f"norm={self.norm_cfg['type']}, eval_domain="
                f'{self.eval_domain}, eps={self.eps}, affine={self.affine}')
