"""Test (and evaluate) a segmentor: MMSegmentation's tools/test.py with cn_seg.

Usage: ``python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out DIR]
[--show] [--show-dir DIR] [--wait-time S] [--tta] [--adapt-bank K
[--from-bank J] [--adapt-momentum M] [--adapt-out CKPT]]
[--cfg-options K=V ...] [--launcher ...]``. The metrics are logged and
written to ``WORK_DIR/<timestamp>/<timestamp>.json``, which
tools/compare_runs.py reads.
A checkpoint that does not fill the model (weights missing, of other
shapes, another number of CN banks, a CN checkpoint for a BN config) is
refused with the keys and the fix (``NormStateCheckHook``, added if the
config lacks it), instead of being tested with those weights at their
initial state; it loads with ``weights_only=True`` from any source
(:func:`cn_seg.openmmlab.engine.install_safe_loading`).
With ``--adapt-bank K`` every test batch runs in CN bank K, whose statistics
follow the test stream (``TestTimeBankHook``, :func:`cn_seg.adapt_bank`).
"""
import argparse

import cn_seg  # noqa: F401  (registers CN, datasets, metrics)
from cn_seg.openmmlab.engine import install_safe_loading
from cn_seg.openmmlab.engine.collective_timeout import \
    explain_collective_timeout
from cn_seg.openmmlab.engine.run_config import (add_checkpoint_check,
                                                add_run_args, build_runner,
                                                load_run_config)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='MMSeg test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out',
        type=str,
        help='the directory to save output prediction for offline evaluation')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images will be saved. If specified, '
        'it will be automatically saved to the work_dir/timestamp/show_dir')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--tta', action='store_true', help='Test time augmentation')
    parser.add_argument(
        '--adapt-bank',
        type=int,
        default=None,
        metavar='K',
        help='test with CN bank K adapted online to the test stream')
    parser.add_argument(
        '--from-bank',
        type=int,
        default=None,
        metavar='J',
        help='--adapt-bank starts from bank J')
    parser.add_argument(
        '--adapt-momentum',
        type=float,
        default=None,
        metavar='M',
        help='weight of each batch in (0, 1] (default: cumulative average)')
    parser.add_argument(
        '--adapt-out',
        default=None,
        metavar='CKPT',
        help='write the model with the adapted bank here')
    add_run_args(parser)
    return parser.parse_args(argv)


def add_adaptation(cfg, args):
    """Add ``TestTimeBankHook`` for ``--adapt-bank`` (and its options)."""
    if args.adapt_bank is None:
        if any(
                v is not None for v in (args.from_bank, args.adapt_momentum,
                                        args.adapt_out)):
            raise ValueError('--from-bank, --adapt-momentum and --adapt-out '
                             'go with --adapt-bank K.')
        return cfg
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
        dict(
            type='TestTimeBankHook',
            bank=args.adapt_bank,
            from_bank=args.from_bank,
            momentum=args.adapt_momentum,
            out=args.adapt_out)
    ]
    return cfg


def trigger_visualization_hook(cfg, args):
    """Make mmseg's SegVisualizationHook draw (and show or save) predictions.

    Raises:
        ValueError: If the config has no ``default_hooks.visualization``.
    """
    default_hooks = cfg.default_hooks
    if 'visualization' not in default_hooks:
        raise ValueError('--show/--show-dir need default_hooks.visualization='
                         "dict(type='SegVisualizationHook') in the config.")
    visualization_hook = default_hooks['visualization']
    visualization_hook['draw'] = True
    if args.show:
        visualization_hook['show'] = True
        visualization_hook['wait_time'] = args.wait_time
    if args.show_dir:
        cfg.visualizer['save_dir'] = args.show_dir
    return cfg


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = load_run_config(args)  # imports the config's custom_imports
    install_safe_loading()  # after them: a plugin's schemes are guarded
    add_checkpoint_check(cfg)
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    cfg = add_adaptation(cfg, args)
    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    with explain_collective_timeout(cfg):
        build_runner(cfg).test()


if __name__ == '__main__':
    main()
