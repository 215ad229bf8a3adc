"""What tools/train.py and tools/test.py share: mmseg's flags and set-up.

The flags and their effect follow MMSegmentation 1.2.2's ``tools/train.py``
and ``tools/test.py`` (``--work-dir``, ``--cfg-options``, ``--launcher``,
``--local-rank``), plus mmdet's ``--resume [CKPT]``.
"""
import argparse
import datetime
import logging
import os
import os.path as osp
from typing import Optional

import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner, find_latest_checkpoint
from mmengine.runner.checkpoint import _load_checkpoint

from .safe_schemes import install_safe_loading


def add_run_args(parser: argparse.ArgumentParser) -> None:
    """Add the flags every cn_seg run tool takes to ``parser``.

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
    """
    parser.add_argument(
        '--work-dir',
        help='the dir to save logs, checkpoints and metrics '
        '(default: ./work_dirs/<config name>)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b '
        'It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
        'Note that the quotation marks are necessary and that no white space '
        'is allowed.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch >= 2.0 launchers pass `--local-rank` instead of `--local_rank`.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_run_config(args: argparse.Namespace) -> Config:
    """Load ``args.config`` and apply the flags of :func:`add_run_args`.

    The work dir is chosen as in mmseg: ``--work-dir``, else ``work_dir`` in
    the config, else ``./work_dirs/<config file name>``.

    Args:
        args (argparse.Namespace): Parsed arguments with ``config``.

    Returns:
        Config: The config to build the Runner from.

    Raises:
        FileNotFoundError: If the config file does not exist.
    """
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'Config file {args.config} does not exist.')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def apply_resume(cfg: Config, resume: Optional[str]) -> None:
    """Set the config's resume fields from ``--resume [CKPT]``.

    Args:
        cfg (Config): The run config, changed in place.
        resume (str, optional): None (no flag: start afresh, or load
            ``load_from`` as the config says), ``'auto'`` (the flag alone:
            the latest checkpoint in the work dir) or a checkpoint path.
    """
    if resume is None:
        return
    cfg.resume = True
    cfg.load_from = None if resume == 'auto' else resume


def enable_amp(cfg: Config) -> None:
    """Switch ``optim_wrapper`` to mmengine's ``AmpOptimWrapper``.

    Args:
        cfg (Config): The run config, changed in place.

    Raises:
        ValueError: If the config uses an optimizer wrapper other than
            ``OptimWrapper`` (which cannot simply be swapped).
    """
    wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper == 'AmpOptimWrapper':
        print_log(
            'AMP training is already enabled in your config.',
            logger='current',
            level=logging.WARNING)
        return
    if wrapper != 'OptimWrapper':
        raise ValueError(
            f'--amp needs optim_wrapper.type=OptimWrapper, but the config '
            f'has {wrapper}; set AMP in the config instead.')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.loss_scale = 'dynamic'


def dist_timeout(cfg: Config) -> Optional[datetime.timedelta]:
    """``env_cfg.dist_cfg.timeout`` (seconds, as mmengine reads it).

    Args:
        cfg (Config): The run config.

    Returns:
        datetime.timedelta, optional: None if the config sets none (torch's
        default, 30 minutes, applies).

    Raises:
        ValueError: If the timeout is not a positive number of seconds.
    """
    timeout = cfg.get('env_cfg', {}).get('dist_cfg', {}).get('timeout')
    if timeout is None:
        return None
    if isinstance(timeout,
                  bool) or not isinstance(timeout,
                                          (int, float)) or timeout <= 0:
        raise ValueError(
            'env_cfg.dist_cfg.timeout is the time in seconds a collective '
            'may wait for the other processes before it fails; got '
            f'{timeout!r}: set a positive number, e.g. 1800.')
    return datetime.timedelta(seconds=timeout)


def setup_cpu_distributed(cfg: Config) -> None:
    """Let ``--launcher pytorch`` (torchrun) run on machines without CUDA.

    mmengine's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` and
    its DDP wrapper passes ``device_ids=[LOCAL_RANK]``; neither works for CPU
    processes. Without CUDA this starts the gloo process group from
    torchrun's environment (the Runner then skips ``init_dist``), with the
    config's ``env_cfg.dist_cfg.timeout`` (seconds) as mmengine does: a
    process that waits longer than that on a stopped or crashed one fails
    with gloo's timeout error instead of hanging. Unless the config sets
    ``model_wrapper_cfg``, it wraps the model in ``MMDistributedDataParallel``
    without device ids. With CUDA, or without a launcher, it does nothing.

    Args:
        cfg (Config): The run config, changed in place.
    """
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return
    if not dist.is_initialized():
        backend = cfg.get('env_cfg', {}).get('dist_cfg',
                                             {}).get('backend', 'gloo')
        if backend != 'gloo':
            print_log(
                f'env_cfg.dist_cfg.backend={backend} needs CUDA; this '
                'machine has none, so the processes use gloo.',
                logger='current',
                level=logging.WARNING)
        timeout = dist_timeout(cfg)
        if timeout is None:
            dist.init_process_group('gloo')
        else:
            dist.init_process_group('gloo', timeout=timeout)
    if cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel', device_ids=None)


def add_checkpoint_check(cfg: Config) -> None:
    """Add ``NormStateCheckHook`` to ``custom_hooks`` unless listed.

    For tools/test.py, whose checkpoint is the model it measures: one that
    lacks weights of the model, or has weights of other shapes, is refused
    even with a config that does not inherit ``_base_/cn_runtime.py``.

    Args:
        cfg (Config): The run config, changed in place.
    """
    hooks = list(cfg.get('custom_hooks', None) or [])
    listed = {getattr(h.get('type'), '__name__', h.get('type')) for h in hooks}
    if 'NormStateCheckHook' not in listed:
        hooks.append(dict(type='NormStateCheckHook'))
    cfg.custom_hooks = hooks


def use_checkpoint_seed(cfg: Config) -> None:
    """On resume, seed the run as the interrupted one was seeded.

    The Runner seeds everything, and builds the data loader (sampler and
    worker seeds), before it loads the checkpoint; mmengine re-seeds from
    the checkpoint's ``meta.seed`` only afterwards. With
    ``randomness.seed=None`` (a random seed per run) the resumed run would
    draw other data and augmentations. This reads the seed of the
    checkpoint to resume and sets ``randomness.seed`` to it first.

    Args:
        cfg (Config): The run config, changed in place.
    """
    if not cfg.get('resume', False):
        return
    path = cfg.get('load_from') or find_latest_checkpoint(
        osp.abspath(cfg.work_dir))
    if path is None:
        return
    install_safe_loading()  # a scheme registered since is guarded too
    seed = _load_checkpoint(
        path, map_location='cpu').get('meta', {}).get('seed')
    randomness = dict(cfg.get('randomness', None) or {})
    if seed is None or randomness.get('seed') == seed:
        return
    print_log(
        f'Resuming {path}: randomness.seed={seed}, the seed of the '
        f'interrupted run (the config has {randomness.get("seed")}), so that '
        'data order, augmentations and random draws continue that run.',
        logger='current')
    randomness['seed'] = seed
    cfg.randomness = randomness


def build_runner(cfg: Config) -> Runner:
    """Build the default Runner, or ``runner_type`` from the registry.

    Calls :func:`setup_cpu_distributed` and :func:`use_checkpoint_seed`
    first. The run's hooks are the config's own: cn_seg's configs inherit
    them from ``configs/_base_/cn_runtime.py``, so mmseg's own tools give the
    same run.

    Args:
        cfg (Config): The run config.

    Returns:
        Runner: The runner.
    """
    setup_cpu_distributed(cfg)
    use_checkpoint_seed(cfg)
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    from mmseg.registry import RUNNERS
    return RUNNERS.build(cfg)
