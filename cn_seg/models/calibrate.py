"""Filling a CN bank's statistics from unlabeled frames (AdaBN for one bank).

AdaBN (Li et al., "Revisiting Batch Normalization For Practical Domain
Adaptation", the CN paper's reference [10]) re-estimates BN statistics on the
target domain's frames; with CN the estimate goes into the target domain's
own bank, and the banks of the other domains stay as they are.
"""
import warnings
from typing import Any, Iterable, List, Optional

import torch
from torch import nn

from .norms import BatchConsistentNorm, ConsistentNorm
from .routing import uniform_route


def _check(model: nn.Module,
           bank: int,
           from_bank: Optional[int],
           who: str = 'calibrate_bank') -> List[BatchConsistentNorm]:
    """The layers whose statistics bank ``bank`` gets, after the checks.

    ``who`` names the caller (``calibrate_bank``, ``adapt_bank``) in the
    messages.
    """
    layers = [m for m in model.modules() if isinstance(m, ConsistentNorm)]
    if not layers:
        raise ValueError(
            f'{who}: the model has no CN layer; convert its norm '
            'layers first with cn_seg.convert_cn(model, num_domains) or build '
            "it with norm_cfg=dict(type='CN', ...).")
    num_domains = min(m.num_domains for m in layers)
    for name, value in (('bank', bank), ('from_bank', from_bank)):
        if value is None and name == 'from_bank':
            continue
        if isinstance(value, bool) or not isinstance(value, int) or \
                not 0 <= value < num_domains:
            raise ValueError(
                f'{who}: {name}={value!r} is not a bank of the '
                f'model: its CN layers have {num_domains} banks; choose one '
                f'in [0, {num_domains}).')
    stats = [
        m for m in layers
        if isinstance(m, BatchConsistentNorm) and m.track_running_stats
    ]
    if not stats:
        raise ValueError(
            f'{who}: no CN layer of the model keeps running '
            'statistics (CN over GN, LN, IN or BN with '
            'track_running_stats=False normalizes with each input\'s own '
            'statistics): there is nothing to calibrate.')
    return stats


def _keep_unreached(layers: List[BatchConsistentNorm], bank: int,
                    saved: dict) -> None:
    """Give layers no batch reached their statistics back, and say so."""
    for m in layers:
        for t in (m.running_mean, m.running_var, m.num_batches_tracked):
            t[bank] = saved[id(t)][bank]
    if layers:
        warnings.warn(
            f'calibrate_bank: {len(layers)} CN layers got no input (e.g. an '
            'auxiliary head, which runs in training only); they keep bank '
            f"{bank}'s statistics as they were.",
            stacklevel=3)


def _call(model: nn.Module, batch: Any) -> Any:
    if isinstance(batch, dict):
        return model(**batch)
    if isinstance(batch, (tuple, list)):
        return model(*batch)
    return model(batch)


@torch.no_grad()
def calibrate_bank(model: nn.Module,
                   batches: Iterable,
                   bank: int,
                   from_bank: Optional[int] = None) -> int:
    """Estimate bank ``bank``'s running statistics from unlabeled batches.

    Every batch runs through the model with each CN layer in bank ``bank``:
    the batch-norm CN layers normalize with the batch's statistics and
    update bank ``bank``'s ``running_mean``, ``running_var`` and
    ``num_batches_tracked`` as a BN in training mode with ``momentum=None``
    does (the cumulative average over the batches, started afresh); every
    other module runs in eval mode (dropout off, plain norm layers on their
    running statistics). No gradient is computed and nothing else changes:
    the other banks, every parameter (except as ``from_bank`` says) and
    every other buffer stay as they were, and the train/eval mode of every
    module is restored. Layers that no batch reaches (an mmseg auxiliary
    head in ``mode='tensor'``) keep bank ``bank``'s statistics, with a
    warning. If anything fails the model is left as it was.
    Works for any model with CN layers, e.g. a plain BN model converted with
    :func:`cn_seg.convert_cn`, so that a model trained on one domain gets a
    bank for another.

    Example:
        >>> # an mmseg segmentor; inputs normalized by its data_preprocessor
        >>> batches = (dict(inputs=x, mode='tensor') for x in frames)
        >>> cn_seg.calibrate_bank(segmentor, batches, bank=0, from_bank=1)

    Args:
        model (nn.Module): A model with CN layers.
        batches (Iterable): What the model's forward takes, batch by batch:
            a tensor ``x`` is called as ``model(x)``, a tuple or list as
            ``model(*batch)``, a dict as ``model(**batch)`` (e.g.
            ``dict(inputs=x, mode='tensor')`` for an mmseg segmentor). No
            labels are needed. A batch whose layers see one value per
            channel (one frame through a pooled layer) is refused, as by BN.
        bank (int): The bank to calibrate.
        from_bank (int, optional): Copy this bank's affine parameters
            (``weight``, ``bias``) of every CN layer into bank ``bank``
            first: a bank never trained has none worth keeping. Default:
            None (keep bank ``bank``'s own).

    Returns:
        int: The number of batches the statistics were estimated from.

    Raises:
        ValueError: If the model has no CN layer or none with running
            statistics; if ``bank`` or ``from_bank`` is not a bank of every
            CN layer; if ``batches`` is empty.
    """
    stats = _check(model, bank, from_bank)
    layers = [m for m in model.modules() if isinstance(m, ConsistentNorm)]
    saved = {
        id(t): t.clone()
        for m in layers
        for t in (m.weight, m.bias, m.running_mean, m.running_var,
                  m.num_batches_tracked) if t is not None
    }
    modes = [(m, m.training) for m in model.modules()]
    momenta = [(m, m.momentum) for m in stats]
    reached = set()

    def route(layer, args):  # per input, whatever the batch's structure
        layer.set_route(uniform_route(bank, args[0].shape[0]))
        reached.add(layer)

    hooks = [m.register_forward_pre_hook(route) for m in layers]
    routes = [(m, m.route) for m in layers]
    num_batches = 0
    try:
        for m in layers:
            if from_bank is not None and m.weight is not None:
                m.weight[bank] = m.weight[from_bank]
                m.bias[bank] = m.bias[from_bank]
        for m in stats:
            m.running_mean[bank] = 0
            m.running_var[bank] = 1
            m.num_batches_tracked[bank] = 0
            m.momentum = None  # the cumulative average
        model.eval()
        for m in stats:
            m.training = True
        for batch in batches:
            try:
                _call(model, batch)
            except Exception as error:
                if hasattr(error, 'add_note'):  # Python >= 3.11
                    error.add_note(f'calibrate_bank: in batch {num_batches} '
                                   f'(bank={bank}).')
                raise
            num_batches += 1
        if num_batches == 0:
            raise ValueError('calibrate_bank: got no batches; give it at '
                             'least one batch of unlabeled frames.')
        _keep_unreached([m for m in stats if m not in reached], bank, saved)
    except BaseException:
        for m in layers:
            for t in (m.weight, m.bias, m.running_mean, m.running_var,
                      m.num_batches_tracked):
                if t is not None:
                    t.copy_(saved[id(t)])
        raise
    finally:
        for handle in hooks:
            handle.remove()
        for m, route in routes:
            m.set_route(route)
        for m, momentum in momenta:
            m.momentum = momentum
        for m, training in modes:
            m.training = training
    return num_batches
