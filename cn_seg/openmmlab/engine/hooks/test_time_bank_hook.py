"""Online test-time adaptation of a CN bank in mmseg's test loop."""
import os.path as osp
from typing import Optional

from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from cn_seg.models import adapt_bank
from ..bank_checkpoint import save_bank_checkpoint

#: The checkpoint meta key of the adaptations a checkpoint went through.
META_KEY = 'cn_seg_adaptation'


@HOOKS.register_module()
class TestTimeBankHook(Hook):
    """Test with bank ``bank`` following the test stream (no labels).

    Every test batch first updates bank ``bank``'s statistics and is then
    predicted with them (:func:`cn_seg.adapt_bank`, in the one forward pass
    of the test loop); all samples run in bank ``bank``, whatever their
    ``domain_idx``, and the other banks stay as they are. The stream is the
    test dataloader's order, so give it the frames of one domain, in the
    order they arrive (``shuffle=False``), and the batch size the
    deployment will see. ``tools/test.py --adapt-bank K [--from-bank J]``
    adds this hook.

    Example:
        >>> custom_hooks = [dict(type='DomainRoutingHook'),
        ...                 dict(type='TestTimeBankHook', bank=0,
        ...                      from_bank=1)]

    Args:
        bank (int): The bank that follows the stream.
        from_bank (int, optional): Start from this bank's affine parameters
            and statistics. Default: None.
        momentum (float, optional): None for the cumulative average over the
            batches, else the weight of each batch in (0, 1]. Default: None.
        out (str, optional): After the test, write the model with the
            adapted bank to this checkpoint, with an entry in
            ``meta['cn_seg_adaptation']`` saying what it was adapted from.
            Default: None (not saved).
    """
    priority = 'LOW'

    def __init__(self,
                 bank: int,
                 from_bank: Optional[int] = None,
                 momentum: Optional[float] = None,
                 out: Optional[str] = None) -> None:
        self.bank, self.from_bank, self.momentum = bank, from_bank, momentum
        self.out = out
        self._adaptation = None

    def before_test(self, runner) -> None:
        """Start adapting the (unwrapped) model's bank."""
        if get_world_size() > 1:
            raise ValueError(
                'TestTimeBankHook: each process would adapt its bank to its '
                'own share of the test set; run the test in one process '
                '(tools/test.py without --launcher).')
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self._adaptation = adapt_bank(model, self.bank, self.from_bank,
                                      self.momentum)
        runner.logger.info(
            f'TestTimeBankHook: bank {self.bank} follows the test stream' +
            ('' if self.from_bank is
             None else f', starting from bank {self.from_bank}') +
            ', momentum ' + ('None (cumulative average)' if self.momentum is
                             None else str(self.momentum)) + '.')

    def after_test(self, runner) -> None:
        """Stop adapting; write the checkpoint if ``out`` is set."""
        adaptation, self._adaptation = self._adaptation, None
        adaptation.close()
        runner.logger.info(
            f'TestTimeBankHook: bank {self.bank} adapted from '
            f'{adaptation.num_batches} batches' +
            (f'; layers that saw one value per channel kept their '
             f'statistics for that batch: {adaptation.skipped}' if adaptation.
             skipped else '') + '.')
        if self.out is None:
            return
        source = runner.cfg.get('load_from')
        meta = None
        if source:
            from mmengine.runner.checkpoint import _load_checkpoint
            meta = _load_checkpoint(source, map_location='cpu').get('meta')
        save_bank_checkpoint(
            adaptation.model, self.out, meta, META_KEY,
            dict(
                checkpoint=osp.abspath(source)
                if source and osp.isfile(source) else source,
                bank=self.bank,
                from_bank=self.from_bank,
                momentum=self.momentum,
                num_batches=adaptation.num_batches,
                batch_size=runner.test_dataloader.batch_size,
                skipped=dict(adaptation.skipped)))
        runner.logger.info(f'TestTimeBankHook: the model with the adapted '
                           f'bank {self.bank} is written to {self.out}.')
