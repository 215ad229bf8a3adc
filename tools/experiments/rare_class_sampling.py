"""Measure rare-class sampling (RCS) on the synthetic domains (issue 20).

The CN demo (synthetic Cityscapes + GTA5, two crops of each per batch) is
trained as it is and with ``rare_class_sampling`` in its
``DomainBalancedSampler`` (DAFormer's temperature 0.01; ``min_pixels``
scaled from DAFormer's 3000 px of a 1914x1052 GTA5 frame to the synthetic
frames), for each seed. Each run is tested with ``tools/test.py`` on both
val sets; the table gives the per-class IoU of the classes rarest in the
training data (by their share of the labelled training pixels of both
domains, from the converters' ``class_pixel_counts.json``), and the mIoU.

Every run is a real ``tools/train.py`` / ``tools/test.py`` process on data
written by ``tools/make_synthetic_domains.py --prepare`` (the generator and
the converters), one line per stage, logs under ``WORK_DIR/logs``, raw
metrics in ``WORK_DIR/results.json``; the table, the machine and the command
go to ``--out``.

Usage: ``python tools/experiments/rare_class_sampling.py [--work-dir DIR]
[--seeds 0 1 2] [--max-iters 400] [--rarest 6] [--out FILE]``.
"""
import argparse
import json
import os
import os.path as osp
import time

import numpy as np
# calibrate_unlabeled is the experiment module beside this script
from calibrate_unlabeled import Stages, metrics, start

from cn_seg_workbench.analysis.machine import describe_machine
from cn_seg_workbench.analysis.markdown import format_table
from cn_seg_workbench.analysis.seed_tables import mean_std

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'demo',
                  'cn_deeplabv3_r18-d8_1xb4-400_synthetic-cs+gta5-64x128.py')
TOOLS = osp.join(REPO, 'tools')
DOMAINS = ('cityscapes', 'gta5')
TEMPERATURE = 0.01
# DAFormer's 3000 px of a 1914x1052 frame, at the synthetic frames' ~32k px.
MIN_PIXELS = 50


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--work-dir',
        default='work_dirs/rcs',
        help='data, runs and logs (default %(default)s)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--max-iters', type=int, default=400)
    parser.add_argument(
        '--rarest',
        type=int,
        default=6,
        help='rarest classes in the table (default 6)')
    parser.add_argument(
        '--out',
        default=osp.join(REPO, 'benchmarks', 'results', 'rcs.md'),
        help='the Markdown report (default %(default)s)')
    return parser.parse_args(argv)


def class_shares(data: str) -> dict:
    """Each class's share of the labelled training pixels of both domains."""
    total = None
    for name in DOMAINS:
        root = osp.join(data, name)
        with open(osp.join(root, 'class_pixel_counts.json')) as f:
            counts = json.load(f)
        train = [k for k in counts['counts'] if '/val/' not in k]
        if name == 'gta5':
            with open(osp.join(root, 'train.txt')) as f:
                listed = {line.strip() for line in f if line.strip()}
            train = [
                k for k in train if osp.basename(k).split('_')[0] in listed
            ]
        rows = np.asarray([counts['counts'][k] for k in train]).sum(0)
        total = rows if total is None else total + rows
        classes = counts['classes']
    return dict(zip(classes, (total / total.sum()).tolist()))


def run_seed(stage: Stages, seed: int, max_iters: int) -> dict:
    """Both variants of one seed; ``{variant: metrics}``."""
    options = [
        f'randomness.seed={seed}', f'train_cfg.max_iters={max_iters}',
        f'train_cfg.val_interval={max_iters}',
        f'param_scheduler.0.end={max_iters}',
        f'default_hooks.checkpoint.interval={max_iters}'
    ]
    rcs = [
        f'train_dataloader.sampler.rare_class_sampling.temperature='
        f'{TEMPERATURE}',
        f'train_dataloader.sampler.rare_class_sampling.min_pixels='
        f'{MIN_PIXELS}'
    ]
    out = {}
    for variant, extra in (('cn', []), ('cn_rcs', rcs)):
        run_dir = osp.join(stage.work_dir, f'seed{seed}', variant)
        stage(f'seed{seed}_{variant}_train', osp.join(TOOLS, 'train.py'),
              CONFIG, '--work-dir', run_dir, '--cfg-options', *options, *extra)
        with open(osp.join(run_dir, 'last_checkpoint')) as f:
            checkpoint = f.read().strip()
        stage(f'seed{seed}_{variant}_test', osp.join(TOOLS, 'test.py'), CONFIG,
              checkpoint, '--work-dir', run_dir + '_test')
        out[variant] = metrics(run_dir + '_test')
    return out


def table(results: dict, seeds, domain: str, classes) -> list:
    """A row per class (and mIoU), a column per variant: mean ± std."""
    cells = []
    for cls, share in classes + [('mIoU', None)]:
        key = f'{domain}/mIoU' if share is None else f'{domain}/IoU.{cls}'
        row = [cls if share is None else f'{cls} ({share:.2%})']
        means = []
        for variant in ('cn', 'cn_rcs'):
            values = [results[s][variant][key] for s in seeds]
            row.append(
                mean_std(values) + ' (' + ', '.join(f'{v:.2f}'
                                                    for v in values) + ')')
            means.append(float(np.nanmean(values)))
        row.append(f'{means[1] - means[0]:+.2f}')
        cells.append(row)
    return format_table([
        'class (share of training pixels)', 'CN', 'CN + RCS',
        'difference of means'
    ], cells).splitlines()


def main(argv=None) -> None:
    args = parse_args(argv)
    where = describe_machine()
    work_dir = osp.abspath(args.work_dir)
    command, stage, data = start(__file__, argv, work_dir)
    shares = class_shares(data)
    present = sorted(((c, s) for c, s in shares.items() if s > 0),
                     key=lambda item: item[1])
    rarest = present[:args.rarest]
    results = {
        seed: run_seed(stage, seed, args.max_iters)
        for seed in args.seeds
    }
    total = time.time() - stage.start
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(
            dict(results=results, class_shares=shares, times=stage.times),
            f,
            indent=1)
    lines = [
        '# Rare-class sampling on the synthetic domains', '',
        f'Machine: {where}.', '',
        f'Command: `{command}` (run in the repository root), '
        f'{time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}; total wall '
        f'time {total:.0f} s.', '',
        'The CN demo config (`configs/demo/cn_deeplabv3_r18-d8_1xb4-400_'
        'synthetic-cs+gta5-64x128.py`: synthetic Cityscapes + GTA5, two '
        f'crops of each per batch, {args.max_iters} iterations) trained as '
        'it is (CN) and with `rare_class_sampling=dict(temperature='
        f'{TEMPERATURE}, min_pixels={MIN_PIXELS})` for both domains (CN + '
        'RCS), seeds ' + ', '.join(map(str, args.seeds)) + '. IoU (%) on '
        'each val set (20 frames per domain), mean ± sample std over the '
        'seeds (the seeds\' values in brackets), for the '
        f'{len(rarest)} classes with the smallest share of the labelled '
        'training pixels of both domains (classes without training pixels '
        'left out), and the mIoU over all classes.', ''
    ]
    for domain in DOMAINS:
        lines += [f'## {domain} val', '']
        lines += table(results, args.seeds, domain, rarest)
        lines += ['']
    lines += [
        'Per-stage logs and raw metrics (every class, every run): '
        f'`{args.work_dir}/logs/`, `{args.work_dir}/results.json`.', ''
    ]
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        f.write('\n'.join(lines))
    print('\n'.join(lines))
    print(f'Written to {args.out}')


if __name__ == '__main__':
    main()
