"""Runs of a variant's config in this process: its schedule, seed and data.

Each run is the config as mmseg's Runner trains it, with the iterations, the
seed and the data root of the experiment, and its final validation read
back per evaluated domain.
"""
import gc
import os.path as osp
import time
from typing import Dict, Sequence

from mmengine.config import Config

from cn_seg.openmmlab.engine.run_config import build_runner
from ..analysis.run_results import RunResult, read_run
from .variants import CONFIG_DATA


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


def run_config(config: str,
               work_dir: str,
               seed: int,
               iters: int,
               data: str,
               quick: bool = False) -> Config:
    """The variant's config with this run's schedule, seed and data.

    Args:
        config (str): The variant's config file.
        work_dir (str): The run's work dir.
        seed (int): The run's seed.
        iters (int): Training iterations; the schedulers that end at the
            config's ``max_iters`` end there instead.
        data (str): The synthetic domains' root (``cityscapes/``,
            ``gta5/``) in place of the configs' ``data/synthetic/``.
        quick (bool): No checkpoints and no dataloader workers. Default:
            False.
    """
    cfg = Config.fromfile(config)
    old_iters = cfg.train_cfg.max_iters
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
    if quick:  # nothing to keep
        cfg.default_hooks.checkpoint.update(
            interval=iters + 1, save_last=False)
    else:
        cfg.default_hooks.checkpoint.update(interval=iters, max_keep_ckpts=1)
    cfg.default_hooks.logger.interval = min(cfg.default_hooks.logger.interval,
                                            iters)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        _redirect(cfg[key], osp.abspath(data))
        if quick:
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
