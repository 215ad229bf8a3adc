"""The flags of tools/train.py and tools/test.py, applied to a real config."""
import argparse
import os.path as osp

import pytest

from cn_seg.engine.run_config import (add_run_args, apply_resume, enable_amp,
                                     load_run_config)

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
    cfg = _load('--work-dir', 'here', '--cfg-options',
                'train_cfg.max_iters=7', 'model.backbone.depth=34')
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
    args = argparse.Namespace(config=str(tmp_path / 'nope.py'), local_rank=0,
                              launcher='none', cfg_options=None,
                              work_dir=None)
    with pytest.raises(FileNotFoundError, match='nope.py'):
        load_run_config(args)
