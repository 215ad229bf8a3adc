"""The per-domain state of a batch-statistics CN layer, as backends take it."""
from typing import NamedTuple, Optional

import torch


class BankState(NamedTuple):
    """What a per-domain batch-norm backend reads and updates, in one value.

    Built by the CN layer for each forward pass. Bank ``k`` is row ``k`` of
    every tensor.

    Args:
        weight (torch.Tensor, optional): Scales ``(t, C)``.
        bias (torch.Tensor, optional): Shifts ``(t, C)``.
        running_mean (torch.Tensor, optional): ``(t, C)``, updated in place
            for the banks present in the batch.
        running_var (torch.Tensor, optional): Likewise.
        num_batches_tracked (torch.Tensor, optional): ``(t,)`` batch
            counters.
        momentum (float, optional): Running-average factor; None for a
            cumulative average, as in ``torch.nn.BatchNorm2d``.
        eps (float): Added to the variance.
        num_domains (int): The number of banks t.
        update_stats (bool): Whether this pass updates the running statistics
            (training with ``track_running_stats``).
    """
    weight: Optional[torch.Tensor]
    bias: Optional[torch.Tensor]
    running_mean: Optional[torch.Tensor]
    running_var: Optional[torch.Tensor]
    num_batches_tracked: Optional[torch.Tensor]
    momentum: Optional[float]
    eps: float
    num_domains: int
    update_stats: bool
