"""The collectives of CN over SyncBN: one ``all_reduce`` per direction.

The statistics of domain k are those of all of domain k's samples on all
ranks of the process group, so a distributed run equals single-process CN on
the concatenated global batch. Every domain's (samples, count, sum, sum of
squares) travels in one float64 ``all_reduce`` in the forward pass and every
domain's gradient sums in one ``all_reduce`` in the backward pass, whatever
each rank's batch holds: a rank without some domain still takes part with
zeros, so no rank waits on a collective another rank skips. Plain
``torch.distributed`` collectives work on gloo (CPU) and NCCL (GPU) alike;
``torch.nn.SyncBatchNorm`` refuses CPU tensors.
"""
from typing import Tuple

import torch
import torch.distributed as dist

from .common import Moments


def sync_world(group=None) -> int:
    """Number of processes statistics are synchronized over (1 if none)."""
    if not (dist.is_available() and dist.is_initialized()):
        return 1
    return dist.get_world_size(group)


def all_reduce_moments(moments: Moments,
                       samples: torch.Tensor,
                       group=None) -> Tuple[Moments, torch.Tensor]:
    """Every domain's moments and sample count over all ranks of ``group``.

    float64: the sums of squares of all ranks lose nothing before the
    subtraction ``E[x^2] - E[x]^2``.

    Args:
        moments (Moments): This rank's per-domain moments.
        samples (torch.Tensor): ``(t,)`` this rank's samples of each domain.
        group (ProcessGroup, optional): Default group if None.

    Returns:
        tuple[Moments, torch.Tensor]: The global moments (in the input
        moments' dtype) and sample counts.
    """
    t, c = moments.mean.shape
    n = moments.count.double()
    mean = moments.mean.double()
    payload = torch.cat([
        samples.double()[:, None], n[:, None], mean * n[:, None],
        (moments.var.double() + mean * mean) * n[:, None]
    ],
                        dim=1)
    dist.all_reduce(payload, group=group)
    count = payload[:, 1]
    total = count.clamp(min=1)[:, None]
    mean = payload[:, 2:2 + c] / total
    var = (payload[:, 2 + c:] / total - mean * mean).clamp(min=0)
    dtype = moments.mean.dtype
    return Moments(count.to(dtype), mean.to(dtype), var.to(dtype)), \
        payload[:, 0].round().long()


def all_reduce_sums(sums: torch.Tensor, group=None) -> torch.Tensor:
    """Sum the per-domain gradient sums over all ranks (in place)."""
    dist.all_reduce(sums, group=group)
    return sums
