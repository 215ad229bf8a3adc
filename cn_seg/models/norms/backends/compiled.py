"""Per-domain batch norm as plain ATen ops, for ``torch.compile``.

The eager backends are opaque kernels, so inductor could not fuse a CN layer
with the ReLU after it. Traced, a CN layer is this function instead: a fixed
number of ATen ops whatever the number of domains, which inductor fuses as it
fuses BN (the conv -> CN -> ReLU block generates at most two kernels more
than conv -> BN -> ReLU; ``tests/test_models/test_compiled_cn.py``).

Each sample's per-channel mean and variance come from one ``var_mean`` over
its positions (the reduction BN makes). A one-hot ``(N, t)`` matrix merges
them into each domain's moments in one pass, ``mean_k = ref + E_k[d]`` and
``var_k = E_k[var_i + d^2] - E_k[d]^2`` with ``d = mean_i - ref``, shifted by
the first sample's means ``ref`` (exact in exact arithmetic; in floating
point the cancellation costs ``eps * (mean_k - ref)^2 / var_k``, small while
domain means differ by a few standard deviations, and nothing in float64).
The same matrix hands each sample its domain's scale and shift. These are
broadcast products summed over a small axis, not gathers, so the backward
pass has no scatter (atomics, on a GPU).
"""
import torch
import torch.nn.functional as F

from .bank_state import BankState
from .common import Moments, acc_dtype, update_running_stats


def compiled_domain_batch_norm(x: torch.Tensor, onehot: torch.Tensor,
                               samples: torch.Tensor,
                               state: BankState) -> torch.Tensor:
    """Normalize each sample with its domain's batch statistics.

    Computes what :func:`~function.domain_batch_norm` computes locally
    (running statistics of the present banks updated in place), as ATen ops
    that ``torch.compile`` traces into one graph.

    Args:
        x (torch.Tensor): The layer input ``(N, C, ...)``, any domain order.
        onehot (torch.Tensor): ``(N, k)`` one-hot bank of each sample
            (``k <= num_domains``; missing columns are absent banks).
        samples (torch.Tensor): ``(k,)`` samples of each bank: give it as an
            input (a route's tensor), not as ``onehot.sum(0)`` in the graph,
            which costs inductor kernels.
        state (BankState): The layer's banks.

    Returns:
        torch.Tensor: The normalized batch, same shape and order as ``x``.
    """
    n, c = x.shape[:2]
    dims = tuple(range(2, x.dim()))
    acc = acc_dtype(x.dtype)
    xa = x if x.dtype == acc else x.to(acc)
    missing = state.num_domains - onehot.shape[1]
    if missing:
        onehot, samples = F.pad(onehot,
                                (0, missing)), F.pad(samples, (0, missing))
    onehot, samples = onehot.to(acc), samples.to(acc)
    if dims:
        var_i, mean_i = torch.var_mean(xa, dim=dims, correction=0)
    else:
        mean_i, var_i = xa, torch.zeros_like(xa)
    ref = mean_i[0].detach()
    d = mean_i - ref
    share = onehot / samples.clamp(min=1)
    m1 = (share[:, :, None] * d[:, None, :]).sum(0)
    m2 = (share[:, :, None] * (var_i + d * d)[:, None, :]).sum(0)
    mean = ref + m1
    var = (m2 - m1 * m1).clamp(min=0)
    invstd = torch.rsqrt(var + state.eps)
    positions = x[0, 0].numel() if n and c else 1
    with torch.no_grad():
        update_running_stats(
            state, Moments(samples * positions, mean.detach(), var.detach()),
            samples)
    scale = invstd if state.weight is None else invstd * state.weight
    shift = -mean * scale if state.bias is None else \
        state.bias - mean * scale
    view = (n, c) + (1, ) * len(dims)
    scale = (onehot[:, :, None] * scale[None]).sum(1).view(view)
    shift = (onehot[:, :, None] * shift[None]).sum(1).view(view)
    out = xa * scale + shift
    return out if out.dtype == x.dtype else out.to(x.dtype)
