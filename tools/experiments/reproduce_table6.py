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
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Sequence

import cn_seg  # noqa: F401  (registers CN, datasets, hooks)
from cn_seg_workbench.experiments.report import report
from cn_seg_workbench.experiments.seed_runs import (read_domains, run_config,
                                                    train)
from cn_seg_workbench.experiments.variants import EXPERIMENTS, MAIN_DOMAIN
from cn_seg_workbench.synthetic import prepare_synthetic_domains

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train and compare the Table 6 variants (or the '
        'multi-scale transform domains) on the synthetic domains.')
    parser.add_argument(
        '--experiment', choices=sorted(EXPERIMENTS), default='table6')
    parser.add_argument(
        '--variants',
        type=int,
        nargs='+',
        metavar='K',
        help='train only these variants (1-based, in the '
        "experiment's order; default: all)")
    parser.add_argument(
        '--seeds',
        type=int,
        help='seeds 0..N-1 per variant (default: 3; 2 with '
        '--quick)')
    parser.add_argument(
        '--iters',
        type=int,
        help='training iterations per run (default: 1000; '
        '1 with --quick)')
    parser.add_argument(
        '--out',
        help='output folder (default: '
        'work_dirs/<experiment>[-quick])')
    parser.add_argument(
        '--data',
        default='data/synthetic',
        help='synthetic domains (cityscapes/, gta5/); '
        'generated and converted if missing')
    parser.add_argument(
        '--num-train',
        type=int,
        default=80,
        help='frames per domain when generating the data')
    parser.add_argument(
        '--num-val',
        type=int,
        default=20,
        help='val frames per domain when generating')
    parser.add_argument(
        '--quick',
        action='store_true',
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


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    experiment = EXPERIMENTS[args.experiment]
    experiment = dataclasses.replace(
        experiment,
        variants=[experiment.variants[k - 1] for k in args.variants])
    prepare_synthetic_domains(
        args.data, num_train=args.num_train, num_val=args.num_val)
    start = time.perf_counter()
    results: Dict[str, List[dict]] = {}
    total = len(experiment.variants) * args.seeds
    done = 0
    for seed in range(args.seeds):
        for name, config in experiment.variants:
            done += 1
            work_dir = osp.abspath(
                osp.join(args.out, 'runs',
                         osp.splitext(osp.basename(config))[0], f'seed{seed}'))
            print(
                f'[{done}/{total}] {name}, seed {seed}: {config}', flush=True)
            seconds = train(
                run_config(
                    osp.join(REPO, config), work_dir, seed, args.iters,
                    args.data, args.quick))
            domains = read_domains(work_dir, name, experiment.domains)
            if MAIN_DOMAIN not in domains:
                raise SystemExit(f'{work_dir} has no {MAIN_DOMAIN} '
                                 'evaluation; check the config.')
            print(
                f'[{done}/{total}] {name}, seed {seed}: {seconds:.0f} s, '
                f'{MAIN_DOMAIN} mIoU {domains[MAIN_DOMAIN].miou:.2f}',
                flush=True)
            results.setdefault(name, []).append(
                dict(
                    seed=seed,
                    seconds=seconds,
                    work_dir=work_dir,
                    domains=domains))
    command = 'python tools/experiments/reproduce_table6.py ' + ' '.join(argv)
    text = report(experiment, results, args.out, args.data, args.iters,
                  args.seeds,
                  time.perf_counter() - start, command)
    print('\n' + text)
    print(f'Table: {osp.join(args.out, "table.md")}\n'
          f'Chart: {osp.join(args.out, "per_class_iou.png")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
