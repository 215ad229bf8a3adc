"""Switching domain routing on for a Runner's model from the config."""
from typing import List

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from torch import nn

from cn_seg.models import ConsistentNorm, enable_domain_routing
from ..bank_coverage import untrained_bank_warning, untrained_banks
from .atomic_checkpoint_hook import AtomicCheckpointHook

# The hooks besides this one that make a cn_seg run safe.
_SAFETY_HOOKS = ('SafeLoadingHook', 'NormStateCheckHook', 'RandomStateHook')


def _missing_safety_hooks(runner) -> List[str]:
    """The hooks of ``configs/_base_/cn_runtime.py`` the run lacks."""
    names = {type(h).__name__ for h in runner.hooks}
    missing = [n for n in _SAFETY_HOOKS if n not in names]
    if not any(isinstance(h, AtomicCheckpointHook) for h in runner.hooks):
        missing.append('AtomicCheckpointHook (default_hooks.checkpoint)')
    return missing


def _check_not_converted(model: nn.Module) -> int:
    """Count CN layers; refuse CN layers that ``sync_bn`` rebuilt as SyncBN."""
    for name, module in model.named_modules():
        weight = getattr(module, 'weight', None)
        if isinstance(module, nn.SyncBatchNorm) and weight is not None \
                and weight.dim() == 2:
            raise ValueError(
                f"Layer '{name}' is a CN layer that the config's `sync_bn` "
                'option rebuilt as torch SyncBatchNorm, which loses its '
                'banks. Remove `sync_bn` from the config and synchronize '
                "inside CN instead: norm_cfg=dict(type='CN', num_domains=..., "
                "norm_cfg=dict(type='SyncBN')).")
    return sum(isinstance(m, ConsistentNorm) for m in model.modules())


@HOOKS.register_module()
class DomainRoutingHook(Hook):
    """Normalize each sample with the CN bank of its data sample's domain.

    Add ``custom_hooks = [dict(type='DomainRoutingHook')]`` to a config: before
    the run it calls :func:`cn_seg.enable_domain_routing` on the model, so that
    training, validation and testing through any mmseg segmentor route sample
    ``i`` to bank ``data_samples[i].metainfo['domain_idx']`` (domain 0 when a
    sample has none). Models built later from the same one by deep copy (EMA)
    keep the routing and route their own layers.

    When a checkpoint is saved and at the end of training it warns about
    every bank that has received no sample (``bank 1 of backbone.stem.1 has
    seen 0 batches; is every domain in the training set?``), and before
    the run about the hooks of ``configs/_base_/cn_runtime.py`` the run
    lacks (a config that lists this hook alone).
    """
    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        """Install the routing hooks on the (unwrapped) model."""
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        num_layers = _check_not_converted(model)
        enable_domain_routing(model)
        runner.logger.info(
            f'DomainRoutingHook: routing {num_layers} CN layers by '
            "data_sample.metainfo['domain_idx'].")
        missing = _missing_safety_hooks(runner)
        if missing:
            runner.logger.warning(
                f'DomainRoutingHook: this run has no {", ".join(missing)}, '
                'so checkpoints of any source may run code when loaded, a '
                'checkpoint that does not fit the model is not refused, a '
                'resumed run differs from an uninterrupted one, or a kill '
                "while a checkpoint is written loses it. Inherit cn_seg's "
                "configs/_base_/cn_runtime.py, or list the hooks in "
                "custom_hooks and default_hooks.checkpoint as it does.")

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Warn about banks the saved model never trained."""
        self._warn_untrained(runner, 'the checkpoint being saved')

    def after_train(self, runner) -> None:
        """Warn about banks the training never reached."""
        self._warn_untrained(runner, 'the trained model')

    @staticmethod
    def _warn_untrained(runner, what: str) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        banks = untrained_banks(model)
        if banks:
            runner.logger.warning(
                'DomainRoutingHook: ' + untrained_bank_warning(
                    banks, f'in {what} it normalizes with mean 0 and '
                    'variance 1'))
