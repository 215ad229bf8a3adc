"""Online test-time adaptation of one CN bank's statistics.

The online form of :func:`cn_seg.calibrate_bank` (AdaBN, Li et al., the CN
paper's reference [10]; online, as the BN adaptation of TENT and CoTTA
without their gradient steps): each incoming batch first updates bank ``K``'s
running statistics, then is normalized with them, in the one forward pass
that predicts it. No labels, no second pass over the stream. Only bank
``K`` changes, so the banks of the trained domains stay as they were.
"""
import warnings
from typing import List, Optional

import torch
from torch import nn

from .calibrate import _check
from .norms import BatchConsistentNorm, ConsistentNorm
from .routing import uniform_route


def _check_momentum(momentum: Optional[float]) -> Optional[float]:
    if momentum is None:
        return None
    if isinstance(
            momentum,
            bool) or not isinstance(momentum,
                                    (int, float)) or not 0 < momentum <= 1:
        raise ValueError(
            f'adapt_bank: momentum={momentum!r} must be None (the cumulative '
            'average over the batches seen) or a number in (0, 1] (the '
            'weight of each new batch, as BN momentum).')
    return float(momentum)


class BankAdaptation:
    """Bank ``bank`` of a model's CN layers following the batches it sees.

    Made by :func:`adapt_bank`; see there. Use it as a context manager, or
    call :meth:`close` when the stream ends.

    Attributes:
        num_batches (int): Forward passes of the model adapted so far.
        skipped (dict[str, int]): Layer name to the batches it did not
            update from because it saw one value per channel.
    """

    def __init__(self,
                 model: nn.Module,
                 bank: int,
                 from_bank: Optional[int] = None,
                 momentum: Optional[float] = None):
        self.momentum = _check_momentum(momentum)
        self.stats = _check(model, bank, from_bank, 'adapt_bank')
        self.model, self.bank, self.from_bank = model, bank, from_bank
        self.layers = [
            m for m in model.modules() if isinstance(m, ConsistentNorm)
        ]
        self.names = {
            m: n
            for n, m in model.named_modules()
            if isinstance(m, BatchConsistentNorm)
        }
        self.num_batches = 0
        self.skipped = {}
        self._reached = set()
        # Bank ``bank``'s state before adapting, to leave the model as it was
        # if the stream fails.
        self._saved = [(t, t[bank].clone()) for m in self.layers
                       for t in _bank_tensors(m)]
        self._routes = [(m, m.route) for m in self.layers]
        with torch.no_grad():
            for m in self.layers:
                start = bank if from_bank is None else from_bank
                for t in _bank_tensors(m):
                    t[bank] = t[start]
            for m in self.stats:
                m.num_batches_tracked[bank] = 0
        self._hooks = [
            m.register_forward_pre_hook(self._adapt) for m in self.layers
        ]
        self._hooks.append(model.register_forward_pre_hook(self._count))
        self._open = True

    def _count(self, module, args) -> None:
        self.num_batches += 1

    @torch.no_grad()
    def _adapt(self, layer: ConsistentNorm, args) -> None:
        """Route the layer's input to the bank; update its statistics."""
        x = args[0]
        if layer.training:
            raise RuntimeError(
                'adapt_bank: a CN layer runs in training mode, where it '
                'would normalize with the batch statistics and update its '
                'banks as in training; call model.eval() before adapting.')
        layer.set_route(uniform_route(self.bank, x.shape[0]))
        if not isinstance(layer, BatchConsistentNorm) or \
                not layer.track_running_stats:
            return
        self._reached.add(layer)
        if x.numel() <= x.shape[1]:  # one value per channel: no variance
            name = self.names[layer]
            self.skipped[name] = self.skipped.get(name, 0) + 1
            return
        k = self.bank
        dims = [0] + list(range(2, x.dim()))
        var, mean = torch.var_mean(
            x.float() if x.dtype in (torch.float16, torch.bfloat16) else x,
            dim=dims,
            correction=1)
        layer.num_batches_tracked[k] += 1
        m = 1.0 / float(layer.num_batches_tracked[k]) \
            if self.momentum is None else self.momentum
        for running, batch in ((layer.running_mean, mean), (layer.running_var,
                                                            var)):
            running[k] = (1 - m) * running[k] + m * batch.to(running.dtype)

    def close(self, failed: bool = False) -> None:
        """Stop adapting; bank ``bank`` keeps its adapted statistics.

        Args:
            failed (bool): Give bank ``bank`` its state from before the
                adaptation back (the stream failed). Default: False.
        """
        if not self._open:
            return
        self._open = False
        for handle in self._hooks:
            handle.remove()
        for m, route in self._routes:
            m.set_route(route)
        if failed:
            with torch.no_grad():
                for t, value in self._saved:
                    t[self.bank] = value
            return
        unreached = [
            self.names[m] for m in self.stats if m not in self._reached
        ]
        if unreached:
            warnings.warn(
                f'adapt_bank: {len(unreached)} CN layers got no input (e.g. '
                'an auxiliary head, which runs in training only); they keep '
                f'the statistics bank {self.bank} started from.')

    def __enter__(self) -> 'BankAdaptation':
        return self

    def __exit__(self, kind, error, traceback) -> None:
        self.close(failed=kind is not None)


def _bank_tensors(layer: ConsistentNorm) -> List[torch.Tensor]:
    return [
        t for t in (layer.weight, layer.bias,
                    getattr(layer, 'running_mean', None),
                    getattr(layer, 'running_var', None),
                    getattr(layer, 'num_batches_tracked', None))
        if t is not None
    ]


def adapt_bank(model: nn.Module,
               bank: int,
               from_bank: Optional[int] = None,
               momentum: Optional[float] = None) -> BankAdaptation:
    """Adapt bank ``bank``'s statistics to the batches the model predicts.

    From the call on, every forward pass of ``model`` (in eval mode) runs
    each CN layer in bank ``bank``, whatever the routing says; before a
    batch-norm CN layer normalizes its input, bank ``bank``'s
    ``running_mean`` and ``running_var`` are updated from the input's
    statistics (over the batch and the spatial dimensions, the variance
    unbiased, as BN in training mode updates them), and the input is then
    normalized with the updated statistics: each batch is predicted with
    statistics that include it, in one pass. The other banks, every
    parameter and every other buffer stay as they are (bit for bit).

    At the start bank ``bank`` takes ``from_bank``'s affine parameters and
    statistics (if given) and its ``num_batches_tracked`` is set to 0; it
    then counts the batches adapted from. With ``momentum=None`` the
    statistics are the cumulative average over the batches seen (the rule
    of :func:`cn_seg.calibrate_bank`, which normalizes each batch with its
    own statistics instead, and needs a second pass to predict it); with a
    number ``m`` each batch moves them by ``m`` from where they started. A
    layer that sees one value per channel (one frame through global
    pooling) cannot estimate a variance: it keeps its statistics for that
    batch (counted in ``skipped``). Layers that no batch reaches keep the
    statistics bank ``bank`` started from, with a warning at the end.

    On leaving the ``with`` block (or :meth:`BankAdaptation.close`) the
    routing is restored and bank ``bank`` keeps the adapted statistics, to be
    used or saved with the model; if the block raised, bank ``bank`` gets its
    state from before the call back.

    Example:
        >>> model.eval()
        >>> with cn_seg.adapt_bank(model, bank=0, from_bank=1) as adapted:
        ...     for frames in stream:
        ...         prediction = model(frames)
        >>> adapted.num_batches

    Args:
        model (nn.Module): A model with CN layers, in eval mode.
        bank (int): The bank that follows the stream: a spare bank (one
            never trained, or one made for the test domain) keeps the trained
            banks as they are.
        from_bank (int, optional): Start from this bank's affine parameters
            and statistics (e.g. the bank of the domain trained on that is
            closest to the stream). Default: None (bank ``bank``'s own).
        momentum (float, optional): None for the cumulative average, or the
            weight of each new batch in (0, 1]. Default: None.

    Returns:
        BankAdaptation: The adaptation in progress (a context manager).

    Raises:
        ValueError: If the model has no CN layer or none with running
            statistics; if ``bank`` or
            ``from_bank`` is not a bank of every CN layer; if ``momentum`` is
            not None or in (0, 1].
        RuntimeError: During a forward pass in training mode.
    """
    return BankAdaptation(model, bank, from_bank, momentum)
