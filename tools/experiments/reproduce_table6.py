"""The CN paper's Table 6 in miniature, measured on the synthetic domains.

Usage::

    python tools/experiments/reproduce_table6.py [--seeds 3] [--iters 1000]
        [--out DIR] [--quick] [--data data/synthetic]
        [--experiment table6|multiscale]

``table6`` trains four variants on the same data, schedule and seeds, each a
config run by mmengine's Runner in this process, and evaluates them on the
real (Cityscapes-like) domain's val set:

1. BN, real domain only
   (``configs/experiments/table6/deeplabv3_...synthetic-cs-...``);
2. BN, both domains in mixed batches, one shared set of statistics (the demo
   BN config: what a plain mmseg ``ConcatDataset`` run does);
3. per-domain batch statistics, one shared set of parameters and running
   statistics (``configs/experiments/table6/cn-shared_...``: Algorithm 1
   without banks);
4. CN, both domains (the demo CN config, validated with every bank on every
   domain: ``configs/demo/cn_..._bank-matrix.py``, which ``make demo``
   tests too).

``multiscale`` compares the transform-domain example configs
(``configs/demo/*multiscale*``): BN and CN trained on two views of each real
crop (as it is; rescaled to half size and padded), evaluated at full and half
size (dynamic inference with bank 1; as it is, and padded like the
training view).

Writes ``OUT/table.md`` (the paper's Table 6 layout of the seed means,
``mean ± std`` per class, mIoU by evaluation, and for ``table6`` the bank x
domain matrix of variant 4), ``OUT/per_class_iou.png``, ``OUT/results.json``
(every run's numbers) and the runs' work dirs under ``OUT/runs``. The data
are generated and converted with the real tools if ``--data`` has none.
Each run takes the variant's schedule (PolyLR) stretched to ``--iters``.
Measured on 2 cores: 100 to 150 s per run of 1000 iterations; the default
(4 variants x 3 seeds) took 25.8 minutes (``benchmarks/results/table6.md``);
other processes on the machine slow it down several times
(``OMP_WAIT_POLICY=PASSIVE`` limits that, as ``make test`` does).
``--quick`` (2 seeds, one iteration, no dataloader workers, no checkpoints)
checks the whole path in under a minute on idle cores; its numbers mean
nothing.
"""
import argparse
import dataclasses
import gc
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config

import cn_seg  # noqa: F401  (registers CN, datasets, hooks; safe resume)
from cn_seg.openmmlab.engine.run_config import build_runner
from cn_seg_workbench.analysis.machine import describe_machine
from cn_seg_workbench.analysis.results_table import bar_chart, markdown_table
from cn_seg_workbench.analysis.run_results import RunResult, read_run
from cn_seg_workbench.analysis.seed_tables import (bank_matrix, mean_run,
                                                   miou_by_domain,
                                                   per_class_spread)
from cn_seg_workbench.synthetic import prepare_synthetic_domains

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: The data root the configs name; runs read ``--data`` instead.
CONFIG_DATA = 'data/synthetic/'
DEMO = 'configs/demo/'
TABLE6 = 'configs/experiments/table6/'
MAIN_DOMAIN = 'cityscapes'


@dataclasses.dataclass
class Experiment:
    """Variants (row name, config) compared on the same data and seeds.

    ``domains`` are the evaluated domains (metric prefixes) to tabulate;
    ``matrix`` maps each val set to the domain it is evaluated as with each
    bank, for the variant named ``matrix_variant``.
    """
    title: str
    variants: List[Tuple[str, str]]
    domains: List[str]
    matrix: Dict[str, Dict[str, str]] = dataclasses.field(default_factory=dict)
    matrix_variant: str = ''


EXPERIMENTS = {
    'table6': Experiment(
        title='Table 6 in miniature: BN vs CN on a real and a rendered '
        'synthetic domain',
        variants=[
            ('1 BN, real only',
             TABLE6 + 'deeplabv3_r18-d8_1xb4-400_synthetic-cs-64x128.py'),
            ('2 BN, both, shared stats',
             DEMO + 'deeplabv3_r18-d8_1xb4-400_synthetic-cs+gta5-64x128.py'),
            ('3 BN, both, per-domain batch stats', TABLE6 +
             'cn-shared_deeplabv3_r18-d8_1xb4-400_synthetic-cs+gta5-64x128'
             '.py'),
            ('4 CN, both', DEMO +
             'cn_deeplabv3_r18-d8_1xb4-400_synthetic-cs+gta5-64x128_bank-'
             'matrix.py'),
        ],
        domains=['cityscapes', 'gta5', 'cityscapes_bank1', 'gta5_bank0'],
        matrix={
            'real val (cityscapes)': {
                'bank 0 (real)': 'cityscapes',
                'bank 1 (rendered)': 'cityscapes_bank1'
            },
            'rendered val (gta5)': {
                'bank 0 (real)': 'gta5_bank0',
                'bank 1 (rendered)': 'gta5'
            },
        },
        matrix_variant='4 CN, both'),
    'multiscale': Experiment(
        title='Transform-defined domains: two views of each real crop '
        '(full size; half size, padded)',
        variants=[
            ('BN, 2 views', DEMO +
             'deeplabv3_r18-d8_1xb2-400_synthetic-cs-multiscale-64x128.py'),
            ('CN, 2 views', DEMO +
             'cn_deeplabv3_r18-d8_1xb2-400_synthetic-cs-multiscale-64x128'
             '.py'),
        ],
        domains=['cityscapes', 'cityscapes-0.5x', 'cityscapes-0.5x-bank0',
                 'cityscapes-0.5x-pad', 'cityscapes-0.5x-pad-bank0']),
}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train and compare the Table 6 variants (or the '
        'multi-scale transform domains) on the synthetic domains.')
    parser.add_argument('--experiment', choices=sorted(EXPERIMENTS),
                        default='table6')
    parser.add_argument('--variants', type=int, nargs='+', metavar='K',
                        help='train only these variants (1-based, in the '
                        "experiment's order; default: all)")
    parser.add_argument('--seeds', type=int,
                        help='seeds 0..N-1 per variant (default: 3; 2 with '
                        '--quick)')
    parser.add_argument('--iters', type=int,
                        help='training iterations per run (default: 1000; '
                        '1 with --quick)')
    parser.add_argument('--out', help='output folder (default: '
                        'work_dirs/<experiment>[-quick])')
    parser.add_argument('--data', default='data/synthetic',
                        help='synthetic domains (cityscapes/, gta5/); '
                        'generated and converted if missing')
    parser.add_argument('--num-train', type=int, default=80,
                        help='frames per domain when generating the data')
    parser.add_argument('--num-val', type=int, default=20,
                        help='val frames per domain when generating')
    parser.add_argument('--quick', action='store_true',
                        help='smoke run: 2 seeds, 1 iteration, no '
                        'dataloader workers, no checkpoints')
    args = parser.parse_args(argv)
    args.seeds = args.seeds or (2 if args.quick else 3)
    args.iters = args.iters or (1 if args.quick else 1000)
    if args.seeds < 1 or args.iters < 1:
        parser.error('--seeds and --iters must be at least 1.')
    num_variants = len(EXPERIMENTS[args.experiment].variants)
    args.variants = args.variants or list(range(1, num_variants + 1))
    if not all(1 <= k <= num_variants for k in args.variants):
        parser.error(f'--variants {args.variants}: the {args.experiment} '
                     f'experiment has variants 1..{num_variants}.')
    args.out = args.out or osp.join(
        'work_dirs', args.experiment + ('-quick' if args.quick else ''))
    return args


def _redirect(node, data: str) -> None:
    """Point every ``data_root`` under ``CONFIG_DATA`` to ``data``."""
    if isinstance(node, dict):
        root = node.get('data_root')
        if isinstance(root, str) and root.startswith(CONFIG_DATA):
            node['data_root'] = osp.join(data, root[len(CONFIG_DATA):])
        for value in node.values():
            _redirect(value, data)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _redirect(value, data)


def run_config(config: str, work_dir: str, seed: int,
               args: argparse.Namespace) -> Config:
    """The variant's config with this run's schedule, seed and data."""
    cfg = Config.fromfile(osp.join(REPO, config))
    iters, old_iters = args.iters, cfg.train_cfg.max_iters
    cfg.work_dir = work_dir
    # Runs in one process need their own logger and visualizer instances
    # (mmseg's default_runtime names every visualizer 'visualizer').
    cfg.experiment_name = f'{osp.basename(config)}_{seed}_{time.time_ns()}'
    cfg.visualizer.name = cfg.experiment_name
    cfg.randomness = dict(seed=seed)
    cfg.train_cfg.update(max_iters=iters, val_interval=iters)
    schedulers = cfg.param_scheduler if isinstance(
        cfg.param_scheduler, list) else [cfg.param_scheduler]
    for scheduler in schedulers:
        if scheduler.get('end') == old_iters:
            scheduler['end'] = iters
    if args.quick:  # nothing to keep
        cfg.default_hooks.checkpoint.update(interval=iters + 1,
                                            save_last=False)
    else:
        cfg.default_hooks.checkpoint.update(interval=iters, max_keep_ckpts=1)
    cfg.default_hooks.logger.interval = min(
        cfg.default_hooks.logger.interval, iters)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        _redirect(cfg[key], osp.abspath(args.data))
        if args.quick:
            cfg[key].update(num_workers=0, persistent_workers=False)
    return cfg


def train(cfg: Config) -> float:
    """Train (and validate at the end) in this process; the wall seconds."""
    start = time.perf_counter()
    runner = build_runner(cfg)
    runner.train()
    del runner
    gc.collect()
    return time.perf_counter() - start


def read_domains(work_dir: str, name: str,
                 domains: Sequence[str]) -> Dict[str, RunResult]:
    """The final validation of each evaluated domain of a run."""
    found = {}
    for domain in domains:
        try:
            found[domain] = read_run(work_dir, name, domain)
        except ValueError:  # the variant does not evaluate this domain
            continue
    return found


def _frames(data: str) -> str:
    counts = []
    for domain in ('cityscapes', 'gta5'):
        for split in ('train', 'val'):
            path = osp.join(data, domain, f'{split}.txt')
            with open(path) as f:
                counts.append(f'{domain} {split} {len(f.read().split())}')
    return ', '.join(counts)


def report(experiment: Experiment, results: Dict[str, List[dict]],
           args: argparse.Namespace, wall: float, argv: Sequence[str]) -> str:
    """Write table.md, the chart and results.json; return the Markdown."""
    names = [name for name, _ in experiment.variants]
    runs = {n: [r['domains'][MAIN_DOMAIN] for r in results[n]] for n in names}
    means = [mean_run(n, runs[n]) for n in names]
    miou = {
        n: {d: [r['domains'][d].miou for r in results[n]
                if d in r['domains']] for d in experiment.domains}
        for n in names
    }
    seeds = ', '.join(str(s) for s in range(args.seeds))
    run_times = [r['seconds'] for n in names for r in results[n]]
    parts = [
        f'# {experiment.title}\n',
        f'Command: `python tools/experiments/reproduce_table6.py '
        f'{" ".join(argv)}`'
        f'  \nMachine: {describe_machine()}  \nWall time: {wall / 60:.1f} min '
        f'({len(run_times)} runs, {min(run_times):.0f}-'
        f'{max(run_times):.0f} s each)  \nSchedule: {args.iters} '
        f'iteration(s) per run, seeds {seeds}  \nData: '
        f'{osp.abspath(args.data)} ({_frames(args.data)})\n',
        f'## Per-class IoU (%) on the real val set ({MAIN_DOMAIN}), mean '
        f'over {args.seeds} seed(s)\n', markdown_table(means),
        '## Mean ± std over seeds\n',
        per_class_spread([(n, runs[n]) for n in names]),
        '## mIoU (%) by evaluated domain, mean ± std\n',
        miou_by_domain([(n, miou[n]) for n in names], experiment.domains)
    ]
    cn = experiment.matrix_variant
    if cn in miou:
        banks = list(next(iter(experiment.matrix.values())))
        parts += [f'## Bank x domain: {cn}, mIoU (%)\n',
                  bank_matrix(miou[cn], experiment.matrix, banks)]
    text = '\n'.join(parts)
    os.makedirs(args.out, exist_ok=True)
    with open(osp.join(args.out, 'table.md'), 'w') as f:
        f.write(text)
    bar_chart(means, osp.join(args.out, 'per_class_iou.png'))
    with open(osp.join(args.out, 'results.json'), 'w') as f:
        json.dump({n: [dict(seed=r['seed'], seconds=r['seconds'],
                            work_dir=r['work_dir'],
                            domains={d: dict(mIoU=v.miou, IoU=v.class_iou)
                                     for d, v in r['domains'].items()})
                       for r in results[n]] for n in names}, f, indent=1)
    return text


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    experiment = EXPERIMENTS[args.experiment]
    experiment = dataclasses.replace(
        experiment,
        variants=[experiment.variants[k - 1] for k in args.variants])
    prepare_synthetic_domains(args.data, num_train=args.num_train,
                              num_val=args.num_val)
    start = time.perf_counter()
    results: Dict[str, List[dict]] = {}
    total = len(experiment.variants) * args.seeds
    done = 0
    for seed in range(args.seeds):
        for name, config in experiment.variants:
            done += 1
            work_dir = osp.abspath(osp.join(
                args.out, 'runs',
                osp.splitext(osp.basename(config))[0], f'seed{seed}'))
            print(f'[{done}/{total}] {name}, seed {seed}: {config}',
                  flush=True)
            seconds = train(run_config(config, work_dir, seed, args))
            domains = read_domains(work_dir, name, experiment.domains)
            if MAIN_DOMAIN not in domains:
                raise SystemExit(f'{work_dir} has no {MAIN_DOMAIN} '
                                 'evaluation; check the config.')
            print(f'[{done}/{total}] {name}, seed {seed}: {seconds:.0f} s, '
                  f'{MAIN_DOMAIN} mIoU {domains[MAIN_DOMAIN].miou:.2f}',
                  flush=True)
            results.setdefault(name, []).append(
                dict(seed=seed, seconds=seconds, work_dir=work_dir,
                     domains=domains))
    text = report(experiment, results, args, time.perf_counter() - start,
                  argv)
    print('\n' + text)
    print(f'Table: {osp.join(args.out, "table.md")}\n'
          f'Chart: {osp.join(args.out, "per_class_iou.png")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
