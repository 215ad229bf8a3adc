"""A test-only hook: every rank saves its model's final state.

Imported by the distributed training test through ``custom_imports`` (with
this folder on PYTHONPATH), so the test can compare what each rank holds
after training, not only the checkpoint rank 0 writes.
"""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class SaveRankStateHook(Hook):
    """Save ``work_dir/rank{RANK}_final.pth`` (the model's state dict) after
    training, on every rank."""

    priority = 'VERY_LOW'

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        torch.save(model.state_dict(),
                   osp.join(runner.work_dir, f'rank{get_rank()}_final.pth'))
