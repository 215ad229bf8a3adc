"""Refuse load_from / --resume checkpoints that do not fit the norms."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from mmengine.runner import find_latest_checkpoint

from ..norm_state import check_norm_state, checkpoint_state_dict


@HOOKS.register_module()
class NormStateCheckHook(Hook):
    """Stop a run whose checkpoint would leave norm layers untrained.

    The Runner calls ``after_load_checkpoint`` with the loaded checkpoint
    before it loads the state into the model (``load_from``, ``--resume``,
    ``tools/test.py CONFIG CHECKPOINT``); this hook then applies
    :func:`cn_seg.openmmlab.engine.norm_state.check_norm_state`, strict on
    resume.
    Weights that a backbone's ``init_cfg``/``pretrained`` loads do not pass
    through it (they legitimately lack the heads). ``tools/train.py`` and
    ``tools/test.py`` add it to every run; with mmseg's own tools add
    ``dict(type='NormStateCheckHook')`` to ``custom_hooks``.
    """
    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Check the checkpoint's norm state against the model's."""
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        # The Runner's own resume / load_from values (no public accessor).
        resume = bool(getattr(runner, '_resume', False))
        source = getattr(runner, '_load_from', None)
        if source is None and resume:
            source = find_latest_checkpoint(runner.work_dir)
        check_norm_state(model, checkpoint_state_dict(checkpoint),
                         source=f'Checkpoint {source}' if source else
                         'The checkpoint', resume=resume)
