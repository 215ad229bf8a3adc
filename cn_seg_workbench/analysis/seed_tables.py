"""Mean and spread over seeds of runs' per-class IoU, as Markdown tables.

The per-run reading (:func:`.run_results.read_run`) and the paper's Table 6
layout and bar chart (:mod:`.results_table`) are the tools' own; this module
adds what several seeds need: the mean run of a
variant, and tables of ``mean ± std`` cells.
"""
import math
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .markdown import format_table
from .run_results import RunResult


def _nanmean(values: Sequence[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan


def mean_run(name: str, runs: Sequence[RunResult]) -> RunResult:
    """The per-class and mIoU means of one variant's runs (one per seed).

    A class that is NaN in a run (absent from its val set and predictions)
    is averaged over the other runs.

    Args:
        name (str): The variant's name in tables.
        runs (Sequence[RunResult]): Its runs, all of the same domain.

    Returns:
        RunResult: The mean, with ``source`` listing the runs' files.
    """
    classes = list(runs[0].class_iou)
    return RunResult(
        name=name,
        domain=runs[0].domain,
        class_iou={
            c: _nanmean([r.class_iou[c] for r in runs])
            for c in classes
        },
        miou=_nanmean([r.miou for r in runs]),
        source=', '.join(r.source for r in runs),
        step=runs[0].step)


def mean_std(values: Sequence[float]) -> str:
    """``'mean ± std'`` (sample std over seeds) of the non-NaN values.

    Args:
        values (Sequence[float]): One value per seed; NaN where missing.

    Returns:
        str: e.g. ``'41.20 ± 1.35'``; the mean alone for one value;
        ``'n/a'`` for none.
    """
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return 'n/a'
    if len(values) == 1:
        return f'{values[0]:.2f}'
    return f'{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f}'


def per_class_spread(
        variants: Sequence[Tuple[str, Sequence[RunResult]]]) -> str:
    """Classes as rows, variants as columns, ``mean ± std`` IoU (%) cells.

    Args:
        variants (Sequence[tuple[str, Sequence[RunResult]]]): Each variant's
            name and runs.

    Returns:
        str: A Markdown table, mIoU as the last row.
    """
    classes = list(variants[0][1][0].class_iou)
    rows = [[c] +
            [mean_std([r.class_iou[c] for r in runs]) for _, runs in variants]
            for c in classes]
    rows.append(
        ['**mIoU**'] +
        [f'**{mean_std([r.miou for r in runs])}**' for _, runs in variants])
    return format_table(['class'] + [name for name, _ in variants], rows)


def miou_by_domain(variants: Sequence[Tuple[str, Dict[str, List[float]]]],
                   domains: Sequence[str]) -> str:
    """Variants as rows, evaluated domains as columns, ``mean ± std`` mIoU.

    Args:
        variants (Sequence[tuple[str, dict[str, list[float]]]]): Each
            variant's name and its mIoU per seed for each domain it
            evaluated.
        domains (Sequence[str]): The columns.

    Returns:
        str: A Markdown table; ``n/a`` where a variant did not evaluate a
        domain.
    """
    rows = [[name] + [mean_std(per_domain.get(d, [])) for d in domains]
            for name, per_domain in variants]
    return format_table(['variant'] + list(domains), rows)


def bank_matrix(miou: Dict[str, List[float]], cells: Dict[str, Dict[str, str]],
                banks: Sequence[str]) -> str:
    """The bank x domain matrix of one CN variant, ``mean ± std`` mIoU.

    Args:
        miou (dict[str, list[float]]): mIoU per seed of each evaluated
            domain (metric prefix).
        cells (dict[str, dict[str, str]]): For each val set (row), the
            metric prefix evaluated with each bank (column).
        banks (Sequence[str]): The columns, in bank order.

    Returns:
        str: A Markdown table, ``n/a`` where a cell was not evaluated.
    """
    rows = [[val_set] +
            [mean_std(miou.get(row.get(b, ''), [])) for b in banks]
            for val_set, row in cells.items()]
    return format_table(['val set \\ bank'] + list(banks), rows)
