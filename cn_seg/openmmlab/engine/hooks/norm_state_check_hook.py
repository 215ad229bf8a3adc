"""Refuse load_from / --resume / test checkpoints that do not fit the model."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from mmengine.runner import BaseLoop, find_latest_checkpoint

from ..bank_coverage import untrained_bank_warning, untrained_banks
from ..model_state import check_model_state
from ..norm_state import check_norm_state, checkpoint_state_dict


@HOOKS.register_module()
class NormStateCheckHook(Hook):
    """Stop a run whose checkpoint would leave layers untrained.

    The Runner calls ``after_load_checkpoint`` with the loaded checkpoint
    before it loads the state into the model (``load_from``, ``--resume``,
    ``tools/test.py CONFIG CHECKPOINT``). In training this hook applies
    :func:`cn_seg.openmmlab.engine.norm_state.check_norm_state` (strict on
    resume):
    fine-tuning from a checkpoint without some heads is normal, and mmengine
    warns about the weights it leaves out. In a test or validation run,
    where the checkpoint is the model being measured, the whole model must
    load (:func:`cn_seg.openmmlab.engine.model_state.check_model_state`), and
    a CN
    bank that the checkpoint never trained nor calibrated is warned about.
    Weights that a backbone's ``init_cfg``/``pretrained`` loads do not pass
    through it. Listed in ``configs/_base_/cn_runtime.py``.
    """
    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Check the checkpoint's state against the model's."""
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        # The Runner's own resume / load_from / loop values (no public
        # accessor; train() builds its loop before it loads, test() not).
        resume = bool(getattr(runner, '_resume', False))
        training = isinstance(getattr(runner, '_train_loop', None), BaseLoop)
        source = getattr(runner, '_load_from', None)
        if source is None and resume:
            source = find_latest_checkpoint(runner.work_dir)
        source = f'Checkpoint {source}' if source else 'The checkpoint'
        state_dict = checkpoint_state_dict(checkpoint)
        if training:
            check_norm_state(model, state_dict, source=source, resume=resume)
            return
        check_model_state(model, state_dict, source=source)
        banks = untrained_banks(model, state_dict)
        if banks:
            runner.logger.warning(f'{source}: ' + untrained_bank_warning(
                banks, 'results with it come from a normalization with '
                'mean 0 and variance 1, not from a trained model'))
