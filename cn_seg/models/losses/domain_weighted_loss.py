"""Per-domain loss weights: Algorithm 1's ``sum_k lambda_k * L(view k)``."""
from typing import Dict, List, Optional, Sequence

import torch
from mmseg.registry import MODELS
from torch import nn


@MODELS.register_module()
class DomainWeightedLoss(nn.Module):
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
    routed_by_domain = True  # domain_routing hands it the batch's route

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
        self._route = None
        self.last_terms: Dict[int, torch.Tensor] = {}
        self._last_total: Optional[torch.Tensor] = None

    def __getstate__(self):
        # Copies (e.g. an EMA model) start without this batch's route and
        # terms, which hold autograd graphs that cannot be deep-copied.
        state = self.__dict__.copy()
        state.update(_route=None, last_terms={}, _last_total=None)
        return state

    @property
    def loss_name(self) -> str:
        """str: The wrapped loss's name (the key in the head's loss dict)."""
        return self.loss.loss_name

    def weight_of(self, domain: int) -> float:
        """``lambda_k`` of a domain index."""
        return float(self.domain_weights[domain]) \
            if domain < len(self.domain_weights) else 1.0

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor,
                weight: Optional[torch.Tensor] = None, **kwargs):
        """``sum_k lambda_k * loss(domain k's samples)``."""
        route = self._route
        if route is None:
            raise RuntimeError(
                'DomainWeightedLoss needs the domain of each sample: add '
                "custom_hooks = [dict(type='DomainRoutingHook')] to the "
                'config '
                'or compute the loss inside cn_seg.domain_routing(model, '
                'domain_idx).')
        route.check(cls_score.shape[0], None, 'DomainWeightedLoss')
        idx = route.to('domain_idx', cls_score.device)
        self.last_terms = {}
        for k in sorted(set(route.domain_idx.tolist())):
            sel = (idx == k).nonzero().flatten()
            term = self.loss(cls_score[sel], label[sel],
                             None if weight is None else weight[sel],
                             **kwargs)
            self.last_terms[k] = self.weight_of(k) * term
        total = sum(self.last_terms.values())
        self._last_total = total
        return total


def split_domain_losses(model: nn.Module, losses: dict,
                        names: List[str]) -> dict:
    """Replace each DomainWeightedLoss total in ``losses`` by its terms.

    Args:
        model (nn.Module): The segmentor that computed ``losses``.
        losses (dict): Its loss dict (``mode='loss'``).
        names (list[str]): Domain names by index (``domain{k}`` if unknown).

    Returns:
        dict: ``losses`` with ``'decode.loss_ce'`` turned into
        ``'decode.loss_ce.<domain name>'`` entries summing to it.
    """
    wrappers = [m for m in model.modules() if isinstance(m, DomainWeightedLoss)
                and getattr(m, '_last_total', None) is not None]
    if not wrappers:
        return losses
    out = {}
    for key, value in losses.items():
        owner = next((m for m in wrappers if m._last_total is value), None)
        if owner is None:
            out[key] = value
            continue
        for k, term in owner.last_terms.items():
            name = names[k] if k < len(names) and names[k] else f'domain{k}'
            out[f'{key}.{name}'] = term
    for m in wrappers:
        m._last_total = None
    return out
