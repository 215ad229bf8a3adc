"""Train a segmentor: MMSegmentation's tools/train.py with cn_seg loaded.

Usage: ``python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]]
[--amp] [--cfg-options K=V ...] [--launcher {none,pytorch,slurm,mpi}]``.
``--resume`` alone continues from the latest checkpoint in the work dir;
with a path it continues from that checkpoint, with its seed and random
states, so that the resumed run equals an uninterrupted one. Every
checkpoint (local, URL, or a plugin's scheme) loads with
``weights_only=True`` (:func:`cn_seg.openmmlab.engine.install_safe_loading`). The
run's hooks are the config's: cn_seg's configs inherit them from
``configs/_base_/cn_runtime.py``, so mmseg's own ``tools/train.py`` gives the
same run. In a distributed run, a collective that times out names itself and
``env_cfg.dist_cfg.timeout``.
"""
import argparse

import cn_seg  # noqa: F401  (registers CN, datasets, hooks)
from cn_seg.openmmlab.engine import install_safe_loading
from cn_seg.openmmlab.engine.collective_timeout import \
    explain_collective_timeout
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
    cfg = load_run_config(args)  # imports the config's custom_imports
    install_safe_loading()  # after them: a plugin's schemes are guarded
    if args.amp:
        enable_amp(cfg)
    apply_resume(cfg, args.resume)
    with explain_collective_timeout(cfg):
        build_runner(cfg).train()


if __name__ == '__main__':
    main()
