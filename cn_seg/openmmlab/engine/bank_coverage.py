"""Find the CN banks that never saw a sample, and say so.

A CN layer counts, per bank, the training batches that had samples of the
bank's domain (``num_batches_tracked``, shape ``(num_domains,)``, saved in
every checkpoint); :func:`cn_seg.calibrate_bank` counts its batches there
too. A bank whose count is 0 and whose running statistics are still the
initial ones (mean 0, var 1) was never trained nor calibrated: a model run
with it normalizes with statistics of no data. That happens when a config
has more banks than its training set has domains (``num_domains=2`` with a
one-domain dataset), or when ``domain_idx`` never reaches a bank.
Checkpoints without the counts (older or plain ones) are judged by their
statistics alone.
"""
from typing import Dict, List, Mapping, Optional

import torch
from torch import nn

from cn_seg.models import ConsistentNorm


def _bank_untrained(count: Optional[torch.Tensor], mean: torch.Tensor,
                    var: torch.Tensor) -> bool:
    at_init = bool((mean == 0).all() and (var == 1).all())
    return at_init and (count is None or int(count) == 0)


def untrained_banks(
    model: nn.Module,
    state_dict: Optional[Mapping[str, torch.Tensor]] = None
) -> Dict[int, List[str]]:
    """The CN layers of ``model`` in which each bank has seen no sample.

    Args:
        model (nn.Module): The model (unwrapped).
        state_dict (Mapping, optional): A checkpoint's model state to judge
            instead of the model's own (keys as ``model.state_dict()``).

    Returns:
        dict[int, list[str]]: Bank index to the names of the layers where it
        is untrained; only banks untrained in at least one layer. Layers
        without running statistics (GN/LN/IN, ``track_running_stats=False``)
        are not judged.
    """
    found: Dict[int, List[str]] = {}
    for name, module in model.named_modules():
        if not isinstance(module, ConsistentNorm) or getattr(
                module, 'running_mean', None) is None:
            continue
        source, prefix = (module._buffers, '') if state_dict is None else (
            state_dict, f'{name}.' if name else '')
        mean, var, count = (
            source.get(prefix + key)
            for key in ('running_mean', 'running_var', 'num_batches_tracked'))
        if mean is None or var is None or mean.dim() != 2 or \
                var.shape != mean.shape:
            continue  # a plain checkpoint's (C,) state: it fills every bank
        if count is not None and count.shape != (mean.shape[0], ):
            count = None
        for k in range(mean.shape[0]):
            if _bank_untrained(None if count is None else count[k], mean[k],
                               var[k]):
                found.setdefault(k, []).append(name)
    return found


def untrained_bank_lines(banks: Dict[int, List[str]]) -> List[str]:
    """One warning line per untrained bank, naming its first layer.

    Example: ``bank 1 of backbone.stem.1 (and 44 more CN layers) has seen 0
    batches; is every domain in the training set?``
    """
    lines = []
    for k, layers in sorted(banks.items()):
        more = f' (and {len(layers) - 1} more CN layers)' \
            if len(layers) > 1 else ''
        lines.append(f'bank {k} of {layers[0]}{more} has seen 0 batches; is '
                     'every domain in the training set?')
    return lines


def untrained_bank_warning(banks: Dict[int, List[str]], what: str) -> str:
    """The warning for ``banks``, ending with what it means for ``what``.

    Args:
        banks (dict): As :func:`untrained_banks` returns.
        what (str): What happens with such a bank, e.g. ``'testing it
            normalizes with mean 0 and variance 1'``.
    """
    return ('\n'.join(untrained_bank_lines(banks)) + '\nSuch a bank was '
            f'never trained nor calibrated: {what}. Give the training '
            "set a domain for every bank (MultiDomainDataset, domain_idx), "
            'set num_domains to the number of domains, or fill the bank from '
            'unlabeled frames with tools/calibrate_bank.py.')
