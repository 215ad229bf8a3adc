"""Train a segmentor: MMSegmentation's tools/train.py with cn_seg loaded.

Usage: ``python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]]
[--amp] [--cfg-options K=V ...] [--launcher {none,pytorch,slurm,mpi}]``.
``--resume`` alone continues from the latest checkpoint in the work dir;
with a path it continues from that checkpoint, with its seed and random
states, so that the resumed run equals an uninterrupted one. Importing
cn_seg registers its modules and loads every checkpoint (local or URL) with
``weights_only=True``; each run gets cn_seg's checkpoint hooks
(:func:`cn_seg.openmmlab.engine.run_config.add_safety_hooks`): a checkpoint
that does not fit the model's norm layers is refused, and checkpoints are written so
that a kill during a write keeps the previous one.
"""
import argparse

import cn_seg  # noqa: F401  (registers CN, datasets, hooks; safe resume)
from cn_seg.openmmlab.engine.run_config import (add_run_args, apply_resume,
                                                build_runner, enable_amp,
                                                load_run_config)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from CKPT, or without a path from the latest '
        'checkpoint in the work dir')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training (mmengine supports '
        'it on GPU, NPU, MLU and MUSA devices, not on the CPU)')
    add_run_args(parser)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = load_run_config(args)
    if args.amp:
        enable_amp(cfg)
    apply_resume(cfg, args.resume)
    build_runner(cfg).train()


if __name__ == '__main__':
    main()
