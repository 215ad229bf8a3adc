"""The report of an experiment's runs: tables, chart and raw numbers."""
import json
import os
import os.path as osp
from typing import Dict, List

from ..analysis.machine import describe_machine
from ..analysis.results_table import bar_chart, markdown_table
from ..analysis.seed_tables import (bank_matrix, mean_run, miou_by_domain,
                                    per_class_spread)
from .variants import MAIN_DOMAIN, Experiment


def _frames(data: str) -> str:
    counts = []
    for domain in ('cityscapes', 'gta5'):
        for split in ('train', 'val'):
            path = osp.join(data, domain, f'{split}.txt')
            with open(path) as f:
                counts.append(f'{domain} {split} {len(f.read().split())}')
    return ', '.join(counts)


def report(experiment: Experiment, results: Dict[str, List[dict]], out: str,
           data: str, iters: int, seeds: int, wall: float,
           command: str) -> str:
    """Write ``out``/table.md, the chart and results.json.

    Args:
        experiment (Experiment): What was run.
        results (dict): Per variant name, one dict per seed: ``seed``,
            ``seconds``, ``work_dir`` and ``domains`` (RunResult by domain).
        out (str): The output folder.
        data (str): The data root the runs read.
        iters (int): Iterations per run.
        seeds (int): Seeds per variant.
        wall (float): Seconds all runs took.
        command (str): The command that ran them.

    Returns:
        str: The Markdown of table.md.
    """
    names = [name for name, _ in experiment.variants]
    runs = {n: [r['domains'][MAIN_DOMAIN] for r in results[n]] for n in names}
    means = [mean_run(n, runs[n]) for n in names]
    miou = {
        n: {
            d: [r['domains'][d].miou for r in results[n] if d in r['domains']]
            for d in experiment.domains
        }
        for n in names
    }
    seed_list = ', '.join(str(s) for s in range(seeds))
    run_times = [r['seconds'] for n in names for r in results[n]]
    parts = [
        f'# {experiment.title}\n', f'Command: `{command}`'
        f'  \nMachine: {describe_machine()}  \nWall time: {wall / 60:.1f} min '
        f'({len(run_times)} runs, {min(run_times):.0f}-'
        f'{max(run_times):.0f} s each)  \nSchedule: {iters} '
        f'iteration(s) per run, seeds {seed_list}  \nData: '
        f'{osp.abspath(data)} ({_frames(data)})\n',
        f'## Per-class IoU (%) on the real val set ({MAIN_DOMAIN}), mean '
        f'over {seeds} seed(s)\n',
        markdown_table(means), '## Mean ± std over seeds\n',
        per_class_spread([(n, runs[n]) for n in names]),
        '## mIoU (%) by evaluated domain, mean ± std\n',
        miou_by_domain([(n, miou[n]) for n in names], experiment.domains)
    ]
    cn = experiment.matrix_variant
    if cn in miou:
        banks = list(next(iter(experiment.matrix.values())))
        parts += [
            f'## Bank x domain: {cn}, mIoU (%)\n',
            bank_matrix(miou[cn], experiment.matrix, banks)
        ]
    text = '\n'.join(parts)
    os.makedirs(out, exist_ok=True)
    with open(osp.join(out, 'table.md'), 'w') as f:
        f.write(text)
    bar_chart(means, osp.join(out, 'per_class_iou.png'))
    with open(osp.join(out, 'results.json'), 'w') as f:
        json.dump(
            {
                n: [
                    dict(
                        seed=r['seed'],
                        seconds=r['seconds'],
                        work_dir=r['work_dir'],
                        domains={
                            d: dict(mIoU=v.miou, IoU=v.class_iou)
                            for d, v in r['domains'].items()
                        }) for r in results[n]
                ]
                for n in names
            },
            f,
            indent=1)
    return text
