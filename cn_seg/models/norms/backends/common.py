"""What every per-domain batch-norm backend shares: the statistics, their
running averages and the gradient formulas, each written once."""
from typing import NamedTuple, Optional, Sequence, Tuple

import torch

from .bank_state import BankState


def dense(t: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    """A bank tensor with rows in memory: kernels index row ``k`` at ``k *
    C``."""
    return None if t is None else t.contiguous()


def acc_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype batch statistics are kept in: float32 for half inputs, as
    ATen's batch norm does, else the input's dtype."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) \
        else dtype


def per_channel(x: torch.Tensor) -> int:
    """Elements of one channel in one sample (``H * W`` for NCHW)."""
    return x[0].numel() // max(x.shape[1], 1) if x.shape[0] else \
        int(torch.Size(x.shape[2:]).numel())


class Moments(NamedTuple):
    """Per-domain batch statistics of one layer input.

    Args:
        count (torch.Tensor): ``(t,)`` elements per channel of each domain
            (0 for a domain absent from the batch).
        mean (torch.Tensor): ``(t, C)`` batch means (0 where absent).
        var (torch.Tensor): ``(t, C)`` biased batch variances (0 where
            absent).
    """
    count: torch.Tensor
    mean: torch.Tensor
    var: torch.Tensor

    def invstd(self, eps: float) -> torch.Tensor:
        """``1 / sqrt(var + eps)``, ``(t, C)``."""
        return torch.rsqrt(self.var + eps)


def update_running_stats(state: BankState, moments: Moments,
                         samples: torch.Tensor) -> None:
    """Update the running statistics of the banks present in the batch.

    Mirrors ``torch.nn.BatchNorm2d`` per bank: a bank with samples counts one
    more batch; where it has values, ``running = (1 - f) * running + f *
    batch`` with the unbiased batch variance and ``f = momentum``, or ``1 /
    num_batches_tracked`` when ``momentum`` is None. Absent banks are left
    untouched. Runs on the statistics' device without reading anything back
    to the host.

    Args:
        state (BankState): The layer's state (updated in place).
        moments (Moments): The batch statistics (over all processes when
            synchronized).
        samples (torch.Tensor): ``(t,)`` samples of each domain.
    """
    if not state.update_stats or state.running_mean is None:
        return
    count = moments.count
    unbiased = moments.var * (count / (count - 1).clamp(min=1))[:, None]
    nbt = state.num_batches_tracked
    if nbt is not None:
        nbt.add_((samples > 0).to(nbt.dtype))
    if state.momentum is None:
        factor = 1.0 / nbt.clamp(min=1).to(count.dtype) if nbt is not None \
            else torch.zeros_like(count)
    else:
        factor = torch.full_like(count, state.momentum)
    factor = torch.where(count > 0, factor, 0.0)[:, None]
    for buf, new in ((state.running_mean, moments.mean), (state.running_var,
                                                          unbiased)):
        buf.lerp_(new.to(buf.dtype), factor.to(buf.dtype))


def grad_input_coefficients(
        weight: Optional[torch.Tensor], mean: torch.Tensor,
        invstd: torch.Tensor, sums: torch.Tensor, count: torch.Tensor
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(a, b, d)`` of the input gradient ``a * dy + b * (x - mean) + d``.

    With ``x_hat = (x - mean) * invstd`` and ``n`` elements per channel of
    domain k, batch norm's input gradient is ``w * invstd * (dy - sum(dy) / n
    - x_hat * sum(dy * x_hat) / n)``: per domain and channel an affine map of
    ``dy`` and ``x``.

    Args:
        weight (torch.Tensor, optional): ``(t, C)`` scales.
        mean (torch.Tensor): ``(t, C)``.
        invstd (torch.Tensor): ``(t, C)``.
        sums (torch.Tensor): ``(t, 2C)``: ``sum(dy)`` then ``sum(dy *
            x_hat)`` of each domain.
        count (torch.Tensor): ``(t,)`` elements per channel of each domain.

    Returns:
        tuple[torch.Tensor, torch.Tensor, torch.Tensor]: Each ``(t, C)``.
    """
    c = mean.shape[1]
    n = count.clamp(min=1)[:, None]
    a = invstd if weight is None else invstd * weight
    b = -a * invstd * (sums[:, c:] / n)
    d = -a * (sums[:, :c] / n)
    return a, b, d


def param_grads(sums: torch.Tensor, weight: Optional[torch.Tensor],
                need_weight: bool, need_bias: bool):
    """``(grad_weight, grad_bias)`` from the per-domain gradient sums."""
    c = sums.shape[1] // 2
    dtype = weight.dtype if weight is not None else sums.dtype
    grad_w = sums[:, c:].to(dtype) if need_weight else None
    grad_b = sums[:, :c].to(dtype) if need_bias else None
    return grad_w, grad_b


def check_counts(counts: Sequence[int], shape: Sequence[int]) -> None:
    """Refuse a bank with one value per channel in training, as BN does.

    nn.BatchNorm2d refuses this too: the variance of one value is 0, so
    training normalizes it to beta while evaluation uses running statistics
    that never matched it.

    Args:
        counts (Sequence[int]): Elements per channel of each domain (over all
            processes when synchronized).
        shape (Sequence[int]): The layer input's shape, for the message.

    Raises:
        ValueError: If some domain has exactly one value per channel.
    """
    for k, count in enumerate(counts):
        if count == 1:
            raise ValueError(
                f'CN bank {k} got 1 value per channel in training (one '
                f'sample of shape {tuple(shape[1:])} in the whole batch), so '
                'its batch statistics are undefined. Give each domain more '
                'samples per batch (samples_per_domain), or synchronize the '
                "banks across GPUs with norm_cfg=dict(type='CN', "
                "norm_cfg=dict(type='SyncBN')).")
