"""Compare the final evaluations of several runs (Table 6 of the CN paper).

Usage: ``python tools/compare_runs.py WORK_DIR [WORK_DIR ...] [--names N ...]
[--domain cityscapes] [--out DIR]``. Reads each run's final per-class IoU
(its newest tools/test.py result, else its last validation), prints a
Markdown table with one row per class and a last mIoU row, one column per run
and one per difference to the first run (``Δ CN vs BN``), and writes it to
``OUT/table.md`` with a chart ``OUT/per_class_iou.png``: per-class IoU bars
of every run and, below, each later run's difference to the first. A class
absent from a run's val set and predictions is ``n/a`` and has no bar.
"""
import argparse
import os
import os.path as osp

from cn_seg_workbench.analysis.results_table import bar_chart, class_table
from cn_seg_workbench.analysis.run_results import read_run


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Compare the per-class IoU of several runs.')
    parser.add_argument(
        'work_dirs',
        nargs='+',
        metavar='WORK_DIR',
        help='work dirs of the runs; the first is the '
        'reference for the differences')
    parser.add_argument(
        '--names', nargs='+', help='a name per run (default: folder names)')
    parser.add_argument(
        '--domain',
        help='evaluated domain to compare (default: the '
        'first in the metrics, e.g. cityscapes)')
    parser.add_argument(
        '--out',
        default='work_dirs/compare_runs',
        help='folder for table.md and per_class_iou.png')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    names = args.names or [None] * len(args.work_dirs)
    if len(names) != len(args.work_dirs):
        raise SystemExit(f'--names gives {len(names)} names for '
                         f'{len(args.work_dirs)} work dirs; give one each.')
    runs = [
        read_run(work_dir, name, args.domain)
        for work_dir, name in zip(args.work_dirs, names)
    ]
    table = class_table(runs)
    os.makedirs(args.out, exist_ok=True)
    with open(osp.join(args.out, 'table.md'), 'w') as f:
        f.write(table)
    chart = bar_chart(runs, osp.join(args.out, 'per_class_iou.png'))
    print(f'Per-class IoU (%) on {runs[0].domain}:\n')
    print(table)
    for run in runs:
        when = 'test' if run.step is None else f'validation at iter {run.step}'
        print(f'{run.name}: {when}, {run.source}')
    print(f'\nTable: {osp.join(args.out, "table.md")}\nChart: {chart}')


if __name__ == '__main__':
    main()
