"""Numbers that say what a feature-distribution figure shows.

For each domain: the mean and std of all its values (what the figure's
densities show). For each pair of domains: the 1-Wasserstein distance
between their pooled values (how far apart the drawn densities are), and the
channel gap, the mean over channels of ``|mean_a[c] - mean_b[c]|`` divided
by ``sqrt((var_a[c] + var_b[c]) / 2)`` (pooling over channels can hide
per-channel shifts in opposite directions; this cannot). For a batch-norm
layer (BN or CN) with affine parameters, the reference: the mean and std
that the pooled values would have if each domain were normalized with its
own statistics, i.e. ``N(beta_k[c], gamma_k[c]^2)`` in each channel ``c``
(bank ``k`` of CN, the one set of BN).
"""
import math
from itertools import combinations
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from scipy.stats import wasserstein_distance
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from .markdown import format_table


def domain_statistics(
        values: Dict[str, np.ndarray]) -> Dict[str, Tuple[float, float]]:
    """``{domain: (mean, std)}`` over all values of each domain."""
    return {
        name: (float(np.mean(v)), float(np.std(v)))
        for name, v in values.items()
    }


def channel_gap(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over channels of the standardized difference of channel means.

    Args:
        a (np.ndarray): ``(positions, channels)`` values of one domain.
        b (np.ndarray): The same of another domain (same channels).

    Returns:
        float: ``mean_c |mean_a[c] - mean_b[c]| / sqrt((var_a[c] +
        var_b[c]) / 2)`` over the channels not constant in both domains;
        NaN if there are none.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    gap = np.abs(a.mean(0) - b.mean(0))
    scale = np.sqrt((a.var(0) + b.var(0)) / 2)
    used = scale > 0
    return float(np.mean(gap[used] / scale[used])) if used.any() else math.nan


def domain_distances(
    values: Dict[str,
                 np.ndarray]) -> Dict[Tuple[str, str], Tuple[float, float]]:
    """``{(a, b): (W1 of the pooled values, channel gap)}`` per pair."""
    return {
        (a, b):
        (float(wasserstein_distance(np.ravel(values[a]), np.ravel(values[b]))),
         channel_gap(values[a], values[b]))
        for a, b in combinations(values, 2)
    }


def own_statistics_reference(module: nn.Module,
                             bank: int = 0) -> Optional[Tuple[float, float]]:
    """Pooled mean and std of ``N(beta[c], gamma[c]^2)`` over channels.

    What a batch-norm layer outputs, pooled over its channels (each the
    same number of values), for an input normalized with its own
    statistics: the equal mixture of the channels' normal distributions.

    Args:
        module (nn.Module): The layer whose output is drawn.
        bank (int): The CN bank (ignored for a plain BN). Default: 0.

    Returns:
        tuple[float, float] | None: ``(mean, std)``; None if the layer is not
        a batch norm with affine parameters (GN, LN, IN, a CN wrapping one
        of them, or any other module).
    """
    # CN wrapping GN/LN/IN (AffineConsistentNorm) is not a _BatchNorm.
    if not isinstance(module, _BatchNorm) or module.weight is None:
        return None
    gamma = module.weight.detach().double().cpu().numpy()
    beta = module.bias.detach().double().cpu().numpy()
    if gamma.ndim == 2:  # CN: one row per bank
        row = 0 if gamma.shape[0] == 1 else bank
        gamma, beta = gamma[row], beta[row]
    mean = beta.mean()
    return float(mean), float(np.sqrt(np.mean(gamma**2 + beta**2) - mean**2))


def _cell(value: Optional[float]) -> str:
    return '-' if value is None else f'{value:.3f}'


def statistics_tables(
    models: Dict[str, Dict[str, np.ndarray]],
    references: Optional[Dict[str, Dict[str, Optional[Tuple[float,
                                                            float]]]]] = None
) -> str:
    """Markdown tables of :func:`domain_statistics` and distances.

    Args:
        models (dict[str, dict[str, np.ndarray]]): Per model name, each
            domain's ``(positions, channels)`` values.
        references (dict, optional): Per model and domain, the
            :func:`own_statistics_reference` (or None). Default: None.

    Returns:
        str: Two Markdown tables: per model and domain the mean and std (and
        the reference), per model and pair of domains the distances.
    """
    references = references or {}
    rows: List[Sequence[str]] = []
    for model, values in models.items():
        for name, (mean, std) in domain_statistics(values).items():
            ref = references.get(model, {}).get(name)
            rows.append([
                model, name, f'{mean:.3f}', f'{std:.3f}',
                _cell(ref and ref[0]),
                _cell(ref and ref[1])
            ])
    header = [
        'model', 'domain', 'mean', 'std',
        'mean if normalized with its own statistics', 'std if so'
    ]
    distances = [[model, f'{a} vs {b}', f'{w1:.3f}', f'{gap:.3f}']
                 for model, values in models.items()
                 for (a, b), (w1, gap) in domain_distances(values).items()]
    return format_table(
        header, rows, left=2) + '\n' + format_table(
            ['model', 'domains', 'W1 distance', 'channel gap'],
            distances,
            left=2)
