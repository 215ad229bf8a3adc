"""Tables and a bar chart of the per-class IoU of several runs.

Two table layouts: :func:`class_table` (classes as rows, one column per run
and one per difference to the first run; what ``tools/compare_runs.py``
prints) and :func:`markdown_table` (the CN paper's Table 6 layout: one row
per run, one column per class). A class absent from a run's val set and
predictions (NaN) is ``n/a`` in the tables and a missing bar in the chart,
never 0.
"""
import math
from typing import List, Sequence

from .figures import pyplot, save_figure
from .markdown import format_table
from .run_results import RunResult


def _check_same_classes(runs: Sequence[RunResult]) -> List[str]:
    if not runs:
        raise ValueError('No runs to compare; give at least one work dir.')
    classes = list(runs[0].class_iou)
    for run in runs[1:]:
        if list(run.class_iou) != classes:
            raise ValueError(
                f"Runs '{runs[0].name}' and '{run.name}' were evaluated on "
                f'different classes ({runs[0].source}, {run.source}); compare '
                'runs of the same dataset.')
    return classes


def _fmt(value: float, signed: bool = False) -> str:
    if value is None or math.isnan(value):
        return 'n/a'
    return f'{value:+.2f}' if signed else f'{value:.2f}'


def _values(run: RunResult, classes: Sequence[str]) -> List[float]:
    """The run's IoU of each class, then its mIoU."""
    return [run.class_iou[c] for c in classes] + [run.miou]


def class_table(runs: Sequence[RunResult]) -> str:
    """Per-class IoU (%) with classes as rows: one column per run, then the
    difference of each later run to the first.

    Args:
        runs (Sequence[RunResult]): The runs; the first is the reference.

    Returns:
        str: A Markdown table of one row per class and a last ``mIoU`` row;
        columns ``class``, each run's name, ``Δ {run} vs {first}``.

    Raises:
        ValueError: If there are no runs or their classes differ.
    """
    classes = _check_same_classes(runs)
    first = runs[0]
    header = ['class'] + [run.name for run in runs] + [
        f'Δ {run.name} vs {first.name}' for run in runs[1:]
    ]
    columns = [_values(run, classes) for run in runs]
    rows = []
    for i, name in enumerate(classes + ['mIoU']):
        cells = [name] + [_fmt(column[i]) for column in columns]
        cells += [
            _fmt(column[i] - columns[0][i], signed=True)
            for column in columns[1:]
        ]
        rows.append(cells)
    return format_table(header, rows)


def markdown_table(runs: Sequence[RunResult]) -> str:
    """Per-class IoU (%) of each run, mIoU, and differences to the first run.

    One row per run (classes, mIoU, Δ mIoU), then one row per later run with
    its per-class differences to the first run, as in Table 6 of the paper.

    Args:
        runs (Sequence[RunResult]): The runs; the first is the reference.

    Returns:
        str: A GitHub-flavoured Markdown table.

    Raises:
        ValueError: If there are no runs or their classes differ.
    """
    classes = _check_same_classes(runs)
    first = runs[0]
    header = ['run'] + classes + ['mIoU', f'Δ mIoU vs {first.name}']
    rows = []
    for run in runs:
        cells = [run.name] + [_fmt(run.class_iou[c]) for c in classes]
        cells += [_fmt(run.miou), _fmt(run.miou - first.miou, signed=True)]
        rows.append(cells)
    for run in runs[1:]:
        cells = [f'Δ {run.name} vs {first.name}']
        cells += [
            _fmt(run.class_iou[c] - first.class_iou[c], signed=True)
            for c in classes
        ]
        cells += [_fmt(run.miou - first.miou, signed=True), '']
        rows.append(cells)
    return format_table(header, rows)


def _bars(ax, groups: Sequence[str], series: Sequence[tuple]) -> None:
    """Grouped bars; a NaN value is no bar and an 'n/a' mark at 0."""
    import numpy as np

    x = np.arange(len(groups))
    width = 0.8 / len(series)
    for i, (label, values, color) in enumerate(series):
        offsets = x - 0.4 + (i + 0.5) * width
        ax.bar(offsets, values, width, label=label, color=color)  # NaN: none
        for offset, value in zip(offsets, values):
            if math.isnan(value):
                ax.text(
                    offset,
                    0,
                    'n/a',
                    rotation=90,
                    ha='center',
                    va='bottom',
                    fontsize=6,
                    color=color)
    ax.set_xticks(x)
    ax.set_xticklabels(groups, rotation=45, ha='right')
    ax.grid(axis='y', alpha=0.3)


def bar_figure(runs: Sequence[RunResult]):
    """The per-class IoU (and mIoU) of the runs as a matplotlib figure.

    The top panel groups one bar per run for each class; with more than one
    run, a second panel shows each later run's difference to the first
    (positive: better than the first). Classes absent from a run (NaN) have
    no bar and an 'n/a' mark.

    Args:
        runs (Sequence[RunResult]): The runs, one bar colour each.

    Returns:
        matplotlib.figure.Figure: The figure (close it after use).
    """
    plt = pyplot()

    classes = _check_same_classes(runs)
    groups = classes + ['mIoU']
    colors = plt.rcParams['axes.prop_cycle'].by_key()['color']
    colors = [colors[i % len(colors)] for i in range(len(runs))]
    panels = 2 if len(runs) > 1 else 1
    fig, axes = plt.subplots(
        panels,
        1,
        sharex=True,
        squeeze=False,
        figsize=(max(8, 0.6 * len(groups)), 4.5 if panels == 1 else 7.5))
    top = axes[0, 0]
    _bars(
        top, groups,
        [(f'{run.name} ({_fmt(run.miou)} mIoU)', _values(run, classes), color)
         for run, color in zip(runs, colors)])
    top.set_ylabel('IoU (%)')
    top.set_ylim(0, 100)
    top.set_title(f'Per-class IoU on {runs[0].domain}')
    top.legend(loc='upper right', fontsize='small')
    if panels == 2:
        bottom = axes[1, 0]
        first = _values(runs[0], classes)
        _bars(bottom, groups,
              [(f'{run.name} - {runs[0].name}',
                [v - f for v, f in zip(_values(run, classes), first)], color)
               for run, color in zip(runs[1:], colors[1:])])
        bottom.axhline(0, color='black', linewidth=0.8)
        bottom.set_ylabel(f'Δ IoU vs {runs[0].name} (points)')
        bottom.legend(loc='upper right', fontsize='small')
    fig.tight_layout()
    return fig


def bar_chart(runs: Sequence[RunResult], path: str) -> str:
    """Save :func:`bar_figure` of the runs as a PNG.

    Args:
        runs (Sequence[RunResult]): The runs, one bar colour each.
        path (str): Output file (``.png``).

    Returns:
        str: ``path``.
    """
    return save_figure(bar_figure(runs), path)
