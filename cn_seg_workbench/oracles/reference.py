"""Algorithm 1 the plain way: each domain's samples through its own norm.

:class:`PerDomainNorm` keeps one plain norm layer per bank (the layer
:func:`cn_seg.fold_cn` makes of that bank), takes each
domain's samples out of the batch, normalizes them with their layer and puts
them back. It is the independent reference the tests compare CN with, and
the naive per-domain (DSBN-style) baseline of the benchmarks: correct, and
as costly as it looks (a gather, a norm and a scatter per domain).
"""
import copy
from typing import Callable, Sequence, Union

import torch
from torch import nn

from cn_seg.models.norms import ConsistentNorm


class PerDomainNorm(nn.Module):
    """One plain norm layer per domain, applied to that domain's samples.

    Args:
        banks (Sequence[nn.Module]): The layer of each bank index.
    """

    def __init__(self, banks: Sequence[nn.Module]):
        super().__init__()
        self.banks = nn.ModuleList(banks)

    @classmethod
    def from_cn(cls, cn: ConsistentNorm) -> 'PerDomainNorm':
        """Plain layers holding copies of each bank of ``cn`` (same mode)."""
        from cn_seg.models import fold_cn
        return cls(
            [fold_cn(copy.deepcopy(cn), k) for k in range(cn.num_domains)])

    def forward(
            self, x: torch.Tensor,
            domain_idx: Union[Sequence[int], torch.Tensor]) -> torch.Tensor:
        """Normalize sample ``i`` with ``banks[domain_idx[i]]``."""
        return per_domain(x, domain_idx, lambda k, xs: self.banks[k](xs))


def per_domain(
        x: torch.Tensor, domain_idx: Union[Sequence[int], torch.Tensor],
        norm: Callable[[int, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``norm(k, samples of domain k)`` for each domain, put back in place.

    Args:
        x (torch.Tensor): The batch ``(N, ...)``.
        domain_idx (Sequence[int] | torch.Tensor): The domain of each sample.
        norm (Callable): Normalizes one domain's samples.

    Returns:
        torch.Tensor: The batch, each sample normalized by its domain's norm.
    """
    idx = torch.as_tensor(domain_idx, device=x.device)
    out = torch.zeros_like(x)
    for k in idx.unique().tolist():
        sel = (idx == k).nonzero().flatten()
        out = out.index_copy(0, sel, norm(k, x.index_select(0, sel)))
    return out
