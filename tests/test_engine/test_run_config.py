"""The flags of tools/train.py and tools/test.py, applied to a real config."""
import argparse
import os.path as osp

import pytest

from cn_seg.openmmlab.engine.run_config import (add_run_args, apply_resume,
                                                enable_amp, load_run_config)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'demo',
                  'deeplabv3_r18-d8_1xb4-400_synthetic-cs+gta5-64x128.py')


def _load(*argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    parser.add_argument('--resume', nargs='?', const='auto')
    add_run_args(parser)
    args = parser.parse_args([CONFIG, *argv])
    cfg = load_run_config(args)
    apply_resume(cfg, args.resume)
    return cfg


def test_defaults_follow_mmseg():
    cfg = _load()
    assert cfg.work_dir == osp.join(
        './work_dirs', 'deeplabv3_r18-d8_1xb4-400_synthetic-cs+gta5-64x128')
    assert cfg.launcher == 'none'
    assert cfg.resume is False and cfg.load_from is None


def test_work_dir_and_cfg_options():
    cfg = _load('--work-dir', 'here', '--cfg-options', 'train_cfg.max_iters=7',
                'model.backbone.depth=34')
    assert cfg.work_dir == 'here'
    assert cfg.train_cfg.max_iters == 7
    assert cfg.model.backbone.depth == 34


@pytest.mark.parametrize('argv, load_from', [(['--resume'], None),
                                             (['--resume', 'a.pth'], 'a.pth')])
def test_resume_auto_or_from_a_checkpoint(argv, load_from):
    cfg = _load(*argv)
    assert cfg.resume is True and cfg.load_from == load_from


def test_amp_swaps_the_optimizer_wrapper():
    cfg = _load()
    enable_amp(cfg)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    cfg.optim_wrapper.type = 'OptimWrapperDict'
    with pytest.raises(ValueError, match='OptimWrapperDict'):
        enable_amp(cfg)


def test_missing_config_is_a_clear_error(tmp_path):
    args = argparse.Namespace(
        config=str(tmp_path / 'nope.py'),
        local_rank=0,
        launcher='none',
        cfg_options=None,
        work_dir=None)
    with pytest.raises(FileNotFoundError, match='nope.py'):
        load_run_config(args)


def test_the_runner_has_the_config_hooks_only(tmp_path):
    """tools/train.py adds no hook: mmseg's own train.py gives the same run
    (the configs list them, see test_cn_runtime.py)."""
    from mmengine.hooks import CheckpointHook

    from cn_seg.openmmlab.engine.run_config import build_runner
    cfg = _load('--work-dir', str(tmp_path))
    cfg.custom_hooks = []
    cfg.default_hooks.checkpoint.type = 'CheckpointHook'
    runner = build_runner(cfg)
    names = [type(h).__name__ for h in runner.hooks]
    assert 'NormStateCheckHook' not in names
    assert 'RandomStateHook' not in names
    (checkpoint, ) = [h for h in runner.hooks if isinstance(h, CheckpointHook)]
    assert type(checkpoint) is CheckpointHook


def test_test_tool_adds_the_checkpoint_check_once():
    from cn_seg.openmmlab.engine.run_config import add_checkpoint_check
    cfg = _load()
    cfg.custom_hooks = [dict(type='DomainRoutingHook')]
    for _ in range(2):
        add_checkpoint_check(cfg)
    assert [h['type'] for h in cfg.custom_hooks
            ] == ['DomainRoutingHook', 'NormStateCheckHook']


@pytest.mark.parametrize('configured', [None, 3])
def test_resume_takes_the_checkpoint_seed(tmp_path, configured):
    """The Runner seeds and builds its data loader before it loads the
    checkpoint: the seed must be the interrupted run's from the start."""
    import torch

    from cn_seg.openmmlab.engine.run_config import use_checkpoint_seed
    checkpoint = tmp_path / 'iter_2.pth'
    torch.save(dict(meta=dict(seed=1234, iter=2), state_dict={}), checkpoint)
    (tmp_path / 'last_checkpoint').write_text(str(checkpoint))
    cfg = _load('--resume', '--work-dir', str(tmp_path))
    cfg.randomness = dict(seed=configured, deterministic=False)
    use_checkpoint_seed(cfg)
    assert cfg.randomness == dict(seed=1234, deterministic=False)
    fresh = _load('--work-dir', str(tmp_path))  # no --resume: untouched
    use_checkpoint_seed(fresh)
    assert fresh.randomness.seed == 0
