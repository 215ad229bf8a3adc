"""Per-domain loss weights: Algorithm 1's ``sum_k lambda_k * L(view k)``."""
from typing import Optional, Sequence

import torch
from mmseg.registry import MODELS
from torch import nn

from cn_seg.models.routing import DomainRouted, ReportsLossParts
from cn_seg.structures import fallback_domain_name


@MODELS.register_module()
class DomainWeightedLoss(DomainRouted, ReportsLossParts, nn.Module):
    """Wrap a segmentation loss so each domain is a term of its own.

    The wrapped loss (e.g. ``CrossEntropyLoss``) is computed over each
    domain's samples of the batch separately, ``L_k``, and the loss is
    ``sum_k lambda_k * L_k`` as in the paper's Algorithm 1 (``lambda_k = 1``
    by default). Domains are those of the current route
    (``DomainRoutingHook``), for dataset domains and transform-defined views
    alike. In the training log, the head's entry (e.g. ``decode.loss_ce``) is
    replaced by its per-domain terms (``decode.loss_ce.cityscapes``,
    ``decode.loss_ce.gta5``), whose sum is the same total, so each domain's
    curve is visible and the total loss is unchanged.

    Note that without this wrapper an mmseg loss averages over all pixels of
    the batch, i.e. ``sum_k (n_k / n) * L_k``.

    Example:
        >>> loss_decode = dict(
        ...     type='DomainWeightedLoss',
        ...     loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        ...     domain_weights=[1.0, 0.5])

    Args:
        loss (dict): Config of the wrapped mmseg loss.
        domain_weights (Sequence[float], optional): ``lambda_k`` per domain
            index; domains beyond the list get 1. Default: None (all 1).
    """

    def __init__(self,
                 loss: dict,
                 domain_weights: Optional[Sequence[float]] = None):
        super().__init__()
        self.loss = MODELS.build(loss)
        self.domain_weights = list(domain_weights or [])
        if any(not isinstance(w, (int, float)) or w < 0
               for w in self.domain_weights):
            raise ValueError('DomainWeightedLoss domain_weights must be '
                             f'non-negative numbers, got {domain_weights}.')

    @property
    def loss_name(self) -> str:
        """str: The wrapped loss's name (the key in the head's loss dict)."""
        return self.loss.loss_name

    def weight_of(self, domain: int) -> float:
        """``lambda_k`` of a domain index."""
        return float(self.domain_weights[domain]) \
            if domain < len(self.domain_weights) else 1.0

    def forward(self,
                cls_score: torch.Tensor,
                label: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                **kwargs):
        """``sum_k lambda_k * loss(domain k's samples)``.

        The total and its per-domain terms go to the forward pass's
        :attr:`loss_parts` (when routed by data samples in ``mode='loss'``),
        which the routing hooks log in place of the total.
        """
        route = self.route
        if route is None:
            raise RuntimeError(
                'DomainWeightedLoss needs the domain of each sample: add '
                "custom_hooks = [dict(type='DomainRoutingHook')] to the "
                'config or compute the loss inside '
                'cn_seg.domain_routing(model, domain_idx).')
        route.check(cls_score.shape[0], None, 'DomainWeightedLoss')
        terms = {}
        for k, _, _ in route.segments:
            sel = torch.tensor(route.samples_of(k), device=cls_score.device)
            term = self.loss(cls_score[sel], label[sel],
                             None if weight is None else weight[sel], **kwargs)
            name = route.names[k] if k < len(route.names) and \
                route.names[k] else fallback_domain_name(k)
            terms[name] = self.weight_of(k) * term
        total = sum(terms.values())
        if self.loss_parts is not None:
            self.loss_parts.add(self.loss_name, total, terms)
        return total
