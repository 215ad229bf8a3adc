"""The named parts of the losses of one forward pass, keyed by loss name."""
from typing import Dict, List, Optional, Tuple

import torch

Report = Tuple[torch.Tensor, Dict[str, torch.Tensor]]


class LossParts:
    """What the losses of one forward pass are sums of.

    A loss that is a sum of named terms (``DomainWeightedLoss``: one term per
    domain) adds its total and terms under its loss name; :meth:`split` then
    replaces the total's entry in the segmentor's loss dict (key
    ``<loss_name>`` or ``<prefix>.<loss_name>``, e.g. ``decode.loss_ce``) by
    one entry per term (``decode.loss_ce.cityscapes``), which sum to it.
    One object serves one forward pass (the routing hook makes it).
    """

    def __init__(self):
        self._reports: Dict[str, List[Report]] = {}

    def add(self, loss_name: str, total: torch.Tensor,
            parts: Dict[str, torch.Tensor]) -> None:
        """Record that the loss ``loss_name`` returned ``total`` = sum of
        ``parts``."""
        self._reports.setdefault(loss_name, []).append((total, parts))

    def split(self, losses: dict) -> dict:
        """``losses`` with each recorded total replaced by its parts.

        An entry is split when its key ends in a recorded loss name and its
        value is that total as the loss returned it; a head that added two
        losses of one name into one entry keeps the entry as it is.

        Args:
            losses (dict): A segmentor's loss dict (``mode='loss'``).

        Returns:
            dict: The same entries in the same order, with each recorded
            total replaced by ``<key>.<part>`` entries.
        """
        pending = {
            name: list(reports)
            for name, reports in self._reports.items()
        }
        out = {}
        for key, value in losses.items():
            reports = pending.get(key.rsplit('.', 1)[-1], [])
            match = next((r for r in reports if r[0] is value), None)
            if match is None:
                out[key] = value
                continue
            reports.remove(match)
            for name, part in match[1].items():
                out[f'{key}.{name}'] = part
        return out


class ReportsLossParts:
    """Mixin of a loss module that reports its parts (:class:`LossParts`).

    Routing by data samples (:func:`cn_seg.enable_domain_routing`) hands it
    the forward pass's :class:`LossParts` in ``mode='loss'``; elsewhere it
    has none and reports nothing.
    """

    @property
    def loss_parts(self) -> Optional[LossParts]:
        """LossParts | None: Where this forward pass's parts go."""
        return self.__dict__.get('_loss_parts')

    def set_loss_parts(self,
                       parts: Optional[LossParts]) -> Optional[LossParts]:
        """Report to ``parts`` from now on; returns the previous one."""
        previous = self.loss_parts
        self.__dict__['_loss_parts'] = parts
        return previous

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop('_loss_parts', None)
        return state
