"""The CN paper's Table 6 layout and a per-class bar chart for several runs."""
import math
from typing import List, Sequence

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
    lines = [
        '| ' + ' | '.join(header) + ' |',
        '|' + '---|' + '---:|' * (len(header) - 1),
    ]
    for run in runs:
        cells = [run.name] + [_fmt(run.class_iou[c]) for c in classes]
        cells += [_fmt(run.miou), _fmt(run.miou - first.miou, signed=True)]
        lines.append('| ' + ' | '.join(cells) + ' |')
    for run in runs[1:]:
        cells = [f'Δ {run.name} vs {first.name}']
        cells += [
            _fmt(run.class_iou[c] - first.class_iou[c], signed=True)
            for c in classes
        ]
        cells += [_fmt(run.miou - first.miou, signed=True), '']
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def bar_chart(runs: Sequence[RunResult], path: str) -> str:
    """Save a grouped bar chart of per-class IoU (and mIoU) as a PNG.

    Args:
        runs (Sequence[RunResult]): The runs, one bar colour each.
        path (str): Output file (``.png``).

    Returns:
        str: ``path``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np

    classes = _check_same_classes(runs)
    groups = classes + ['mIoU']
    x = np.arange(len(groups))
    width = 0.8 / len(runs)
    fig, ax = plt.subplots(figsize=(max(8, 0.6 * len(groups)), 4.5))
    for i, run in enumerate(runs):
        values = [run.class_iou[c] for c in classes] + [run.miou]
        values = [0.0 if math.isnan(v) else v for v in values]
        ax.bar(x - 0.4 + (i + 0.5) * width, values, width,
               label=f'{run.name} ({run.miou:.2f} mIoU)')
    ax.set_xticks(x)
    ax.set_xticklabels(groups, rotation=45, ha='right')
    ax.set_ylabel('IoU (%)')
    ax.set_ylim(0, 100)
    ax.set_title(f'Per-class IoU on {runs[0].domain}')
    ax.legend(loc='upper right', fontsize='small')
    ax.grid(axis='y', alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
