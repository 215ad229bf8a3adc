"""Measure what a bank calibrated from unlabeled frames gives (issue 14).

A model trained with labels on the rendered (GTA5-like) synthetic domain
only is evaluated on the real (Cityscapes-like) val set (a) as trained and
(b) after ``tools/calibrate_bank.py`` fills a bank from the real domain's
unlabeled training frames:

- CN (2 banks, samples routed to bank 1): tested with bank 1 (as trained),
  with bank 0 before calibration (never trained: initial state), and with
  bank 0 after ``--bank 0 --from-bank 1`` (bank 1's affine parameters,
  statistics from the real frames).
- CN with bank 0 adapted online to the real val set as it is tested
  (``tools/test.py --adapt-bank 0 --from-bank 1``: each batch updates bank
  0's statistics, a cumulative average, before it is predicted; no labels,
  no second pass), in batches of 1 and of 4 frames.
- For reference, BN (the same network with plain BN): as trained, and with
  its BN statistics re-estimated in place from the same frames (AdaBN; the
  tool runs on its 1-bank CN form, which is the BN model as
  ``cn_seg.convert_cn(model, 1)`` makes it).

Every run is a real ``tools/train.py`` / ``tools/test.py`` /
``tools/calibrate_bank.py`` process on data written by
``tools/make_synthetic_domains.py --prepare`` (the generator and the
converters), one line per stage,
logs under ``WORK_DIR/logs``. The table (per seed, mean and sample std), the
machine, the command and the wall times go to ``--out``.

Usage: ``python tools/experiments/calibrate_unlabeled.py [--work-dir DIR]
[--seeds 0 1 2] [--max-iters 400] [--no-bn] [--out FILE]``.
"""
import argparse
import glob
import json
import os
import os.path as osp
import shlex
import statistics
import subprocess
import sys
import time

from cn_seg_workbench.analysis.machine import describe_machine
from cn_seg_workbench.analysis.markdown import format_table
from cn_seg_workbench.analysis.seed_tables import mean_std

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO, 'configs', 'experiments', 'calibration')
CN_CONFIG = osp.join(CONFIGS,
                     'cn_deeplabv3_r18-d8_1xb4-400_synthetic-gta5-64x128.py')
BN_CONFIG = osp.join(CONFIGS,
                     'deeplabv3_r18-d8_1xb4-400_synthetic-gta5-64x128.py')
ADABN_CONFIG = osp.join(
    CONFIGS, 'cn1_deeplabv3_r18-d8_1xb4-400_synthetic-gta5-64x128_adabn.py')
ONLINE_CONFIG = osp.join(
    CONFIGS, 'cn_deeplabv3_r18-d8_1xb4-400_synthetic-gta5-64x128_online.py')
#: Batch sizes of the online adaptation runs.
ONLINE_BATCH_SIZES = (1, 4)
TOOLS = osp.join(REPO, 'tools')
REAL_FRAMES = 'data/synthetic/cityscapes/leftImg8bit/train'

# (row label, run, metric key) of the table, in order.
ROWS = [
    ('CN, bank 1 (rendered, as trained)', 'cn_trained', 'cityscapes_bank1'),
    ('CN, bank 0 never trained (initial state)', 'cn_trained',
     'cityscapes_bank0'),
    ('CN, bank 0 calibrated from real unlabeled frames (--from-bank 1)',
     'cn_calibrated', 'cityscapes_bank0'),
] + [(f'CN, bank 0 adapted online to the real val stream, batches of {b} '
      '(--adapt-bank 0 --from-bank 1)', f'cn_online_b{b}', 'cityscapes_online')
     for b in ONLINE_BATCH_SIZES] + [
         ('BN, as trained', 'bn_trained', 'cityscapes'),
         ('BN, statistics re-estimated in place on real frames (AdaBN)',
          'bn_adabn', 'cityscapes'),
     ]
# The rendered val set, for reference: what calibration does not touch.
SOURCE_ROWS = [
    ('CN, bank 1', 'cn_trained', 'gta5_bank1'),
    ('CN, bank 1 after calibrating bank 0', 'cn_calibrated', 'gta5_bank1'),
    ('BN, as trained', 'bn_trained', 'gta5'),
    ('BN after AdaBN on real frames', 'bn_adabn', 'gta5'),
]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--work-dir',
        default='work_dirs/calibration',
        help='data, runs and logs (default %(default)s)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument(
        '--max-iters',
        type=int,
        default=400,
        help='training iterations (default: the demo\'s 400)')
    parser.add_argument(
        '--no-bn',
        action='store_true',
        help='skip the BN / AdaBN reference runs')
    parser.add_argument(
        '--out',
        default=osp.join(REPO, 'benchmarks', 'results', 'calibration.md'),
        help='the Markdown report (default %(default)s)')
    return parser.parse_args(argv)


class Stages:
    """Runs each stage as a process with its log, one line per stage."""

    def __init__(self, work_dir: str):
        self.work_dir = work_dir
        self.logs = osp.join(work_dir, 'logs')
        os.makedirs(self.logs, exist_ok=True)
        self.start = time.time()
        self.times = {}
        self.env = dict(
            os.environ,
            OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '2'),
            OMP_WAIT_POLICY=os.environ.get('OMP_WAIT_POLICY', 'PASSIVE'))

    def __call__(self, name: str, *args: str) -> None:
        log = osp.join(self.logs, f'{name}.log')
        begin = time.time()
        with open(log, 'w') as f:
            status = subprocess.call([sys.executable, *args],
                                     cwd=self.work_dir,
                                     env=self.env,
                                     stdout=f,
                                     stderr=subprocess.STDOUT)
        self.times[name] = time.time() - begin
        elapsed = time.time() - self.start
        if status != 0:
            with open(log) as f:
                tail = f.read()[-3000:]
            sys.exit(f'[{elapsed:6.0f}s] {name}: FAILED (exit {status}); '
                     f'end of {log}:\n{tail}')
        print(
            f'[{elapsed:6.0f}s] {name}: done in {self.times[name]:.0f} s '
            f'(log: {log})',
            flush=True)


def metrics(test_dir: str) -> dict:
    """The metrics tools/test.py wrote to ``test_dir/<stamp>/<stamp>.json``."""
    found = sorted(glob.glob(osp.join(test_dir, '*', '*.json')))
    if not found:
        sys.exit(f'No metrics JSON under {test_dir}.')
    with open(found[-1]) as f:
        return json.load(f)


def run_seed(stage: Stages, seed: int, max_iters: int, bn: bool) -> dict:
    """All runs of one seed; ``{run: metrics}``."""
    w = stage.work_dir
    options = [
        '--cfg-options', f'randomness.seed={seed}',
        f'train_cfg.max_iters={max_iters}',
        f'train_cfg.val_interval={max_iters}',
        f'param_scheduler.0.end={max_iters}',
        f'default_hooks.checkpoint.interval={max_iters}'
    ]
    out = {}
    kinds = [('cn', CN_CONFIG, CN_CONFIG, ['--from-bank', '1'])]
    if bn:
        kinds.append(('bn', BN_CONFIG, ADABN_CONFIG, []))
    for kind, config, calib_config, extra in kinds:
        run_dir = osp.join(w, f'seed{seed}', kind)
        stage(f'seed{seed}_{kind}_train', osp.join(TOOLS, 'train.py'), config,
              '--work-dir', run_dir, *options)
        with open(osp.join(run_dir, 'last_checkpoint')) as f:
            checkpoint = f.read().strip()
        stage(f'seed{seed}_{kind}_test', osp.join(TOOLS, 'test.py'), config,
              checkpoint, '--work-dir', run_dir + '_test_trained')
        out[f'{kind}_trained'] = metrics(run_dir + '_test_trained')
        if kind == 'cn':
            for b in ONLINE_BATCH_SIZES:
                test_dir = f'{run_dir}_test_online_b{b}'
                stage(f'seed{seed}_cn_test_online_b{b}',
                      osp.join(TOOLS, 'test.py'), ONLINE_CONFIG, checkpoint,
                      '--work-dir', test_dir, '--adapt-bank', '0',
                      '--from-bank', '1', '--cfg-options',
                      f'test_dataloader.batch_size={b}')
                out[f'cn_online_b{b}'] = metrics(test_dir)
        calibrated = osp.join(run_dir, 'calibrated_bank0.pth')
        stage(f'seed{seed}_{kind}_calibrate',
              osp.join(TOOLS, 'calibrate_bank.py'), calib_config, checkpoint,
              '--images', REAL_FRAMES, '--bank', '0', *extra, '--out',
              calibrated)
        after = 'cn_calibrated' if kind == 'cn' else 'bn_adabn'
        stage(f'seed{seed}_{kind}_test_calibrated', osp.join(TOOLS, 'test.py'),
              calib_config, calibrated, '--work-dir',
              run_dir + '_test_calibrated')
        out[after] = metrics(run_dir + '_test_calibrated')
    return out


def table(results: dict, rows, seeds) -> list:
    """Lines of a Markdown table: a row per run, a column per seed, and the
    mean ± sample std over the seeds."""
    cells = []
    for label, run, key in rows:
        if run not in results[seeds[0]]:
            continue
        values = [results[s][run][f'{key}/mIoU'] for s in seeds]
        cells.append([label] + [f'{v:.2f}'
                                for v in values] + [mean_std(values)])
    header = ['model'] + [f'seed {s}' for s in seeds] + ['mean ± std']
    return format_table(header, cells).splitlines()


def start(script: str, argv, work_dir: str):
    """An experiment's first step: its command line, its stages in
    ``work_dir`` and the synthetic domains they generate and prepare.

    Returns:
        tuple: The command line (str), the :class:`Stages` and the data
        folder.
    """
    command = ' '.join(
        shlex.quote(a) for a in
        ['python', osp.relpath(osp.abspath(script), os.getcwd())] +
        (sys.argv[1:] if argv is None else list(argv)))
    stage = Stages(work_dir)
    data = osp.join(work_dir, 'data', 'synthetic')
    stage('data', osp.join(TOOLS, 'make_synthetic_domains.py'), '--out', data,
          '--prepare')
    return command, stage, data


def main(argv=None) -> None:
    args = parse_args(argv)
    where = describe_machine()
    work_dir = osp.abspath(args.work_dir)
    command, stage, data = start(__file__, argv, work_dir)
    results = {
        seed: run_seed(stage, seed, args.max_iters, not args.no_bn)
        for seed in args.seeds
    }
    total = time.time() - stage.start
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(dict(results=results, times=stage.times), f, indent=1)

    num_frames = len(glob.glob(osp.join(work_dir, REAL_FRAMES, '*', '*.png')))
    train_times = [t for n, t in stage.times.items() if n.endswith('_train')]
    calib_times = [
        t for n, t in stage.times.items() if n.endswith('_calibrate')
    ]
    lines = [
        '# Calibrating a bank from unlabeled frames (synthetic domains)', '',
        f'Machine: {where}.', '',
        f'Command: `{command}` (run in the repository root), '
        f'{time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}; total wall '
        f'time {total:.0f} s ({len(train_times)} trainings of '
        f'{args.max_iters} iterations, {statistics.mean(train_times):.0f} s '
        f'each on average; one calibration from {num_frames} unlabeled '
        f'frames {statistics.mean(calib_times):.1f} s on average, model '
        'building and checkpoint loading included).', '',
        'Trained with labels on the rendered (GTA5-like) training set only '
        f'(80 frames, 4 crops of 64x128 per batch, {args.max_iters} '
        'iterations, seeds ' + ', '.join(map(str, args.seeds)) + '). mIoU (%) '
        'on the real (Cityscapes-like) val set (20 frames). Calibration: '
        f'`tools/calibrate_bank.py` over the {num_frames} real training '
        'frames without labels (batches of 8, the test pipeline), no '
        'gradient. Online adaptation: `tools/test.py --adapt-bank 0 '
        '--from-bank 1` on the real val set in file order (bank 0 starts '
        "from bank 1 and takes each batch's statistics, a cumulative "
        'average, before predicting it; layers that see one value per '
        'channel, ASPP image pooling in batches of one frame, keep bank '
        "1's). std: sample standard deviation over the seeds.", ''
    ]
    lines += table(results, ROWS, args.seeds)
    lines += [
        '', 'For reference, mIoU (%) on the rendered (GTA5-like) val '
        'set (the training domain):', ''
    ]
    lines += table(results, SOURCE_ROWS, args.seeds)
    lines += [
        '', 'Configs: `configs/experiments/calibration/`; per-stage '
        f'logs and raw metrics: `{args.work_dir}/logs/`, '
        f'`{args.work_dir}/results.json`.', ''
    ]
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        f.write('\n'.join(lines))
    print('\n'.join(lines))
    print(f'Written to {args.out}')


if __name__ == '__main__':
    main()
