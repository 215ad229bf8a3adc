"""Refuse a checkpoint that lacks weights of the model, or has other shapes.

mmengine loads checkpoints with ``strict=False``: weights missing from the
checkpoint, or of another shape, keep their initial (random) values with one
warning, and a test, a fold or a calibration then reports a model that was
never trained. Where that would be silent (``tools/test.py``,
``tools/cn2bn.py``, ``tools/calibrate_bank.py``,
``tools/visualize_features.py``) :func:`check_model_state` refuses it.

Allowed, as documented in ``docs/checkpoints.md``:

- a plain (BN) checkpoint for a CN model: its ``(C,)`` norm state fills every
  bank (:func:`cn_seg.openmmlab.engine.norm_state.check_norm_state` judges
  the norm layers, with its own messages);
- ``num_batches_tracked`` missing (torch fills it for old checkpoints);
- the ``data_preprocessor``'s tensors (mean and std come from the config).

Training with ``load_from`` keeps mmengine's behaviour (load what fits, warn
about the rest): fine-tuning from a partial checkpoint is normal. Weights a
backbone's ``init_cfg`` / ``model.pretrained`` loads never pass through here.
"""
from typing import Dict, List, Tuple

import torch
from torch import nn

from .norm_state import _norm_tensors, _shape, check_norm_state

_EXAMPLES = 5
_OPTIONAL = ('num_batches_tracked', )
_SKIPPED_PREFIXES = ('data_preprocessor.', )


def model_state_mismatches(
        model: nn.Module,
        state_dict: Dict[str, torch.Tensor]) -> Tuple[List[str], List[str]]:
    """Weights of ``model`` outside its norm layers that would not load.

    Args:
        model (nn.Module): The model to load into (unwrapped).
        state_dict (dict): The checkpoint's model state
            (:func:`~cn_seg.openmmlab.engine.norm_state.checkpoint_state_dict`).

    Returns:
        tuple[list[str], list[str]]: The keys missing from the checkpoint,
        and one line per key of another shape (both shapes).
    """
    norm_keys = {key for _, key, _, _ in _norm_tensors(model)}
    missing, shapes = [], []
    for key, tensor in model.state_dict().items():
        if key in norm_keys or key.startswith(_SKIPPED_PREFIXES) or \
                key.rsplit('.', 1)[-1] in _OPTIONAL:
            continue
        value = state_dict.get(key)
        if value is None:
            missing.append(key)
        elif not isinstance(value, torch.Tensor) or \
                value.shape != tensor.shape:
            shapes.append(f'{key}: checkpoint {_shape(value)}, model '
                          f'{_shape(tensor)}')
    return missing, shapes


def _examples(lines: List[str]) -> str:
    shown = '\n    '.join(lines[:_EXAMPLES])
    more = (f'\n    ... and {len(lines) - _EXAMPLES} more'
            if len(lines) > _EXAMPLES else '')
    return f'\n    {shown}{more}'


def check_model_state(model: nn.Module,
                      state_dict: Dict[str, torch.Tensor],
                      source: str = 'The checkpoint') -> None:
    """Raise unless ``state_dict`` fills every weight of ``model``.

    The norm layers are checked first by
    :func:`~cn_seg.openmmlab.engine.norm_state.check_norm_state` (a BN
    checkpoint fills CN banks); every other parameter and persistent buffer
    must be in the checkpoint with the model's shape.

    Args:
        model (nn.Module): The model to load into (unwrapped).
        state_dict (dict): The checkpoint's model state.
        source (str): The checkpoint's name, for the message.

    Raises:
        ValueError: Naming the first few keys that would keep their initial
            values, how many in all, and what to do.
    """
    check_norm_state(model, state_dict, source=source)
    missing, shapes = model_state_mismatches(model, state_dict)
    if not missing and not shapes:
        return
    total = len(model.state_dict())
    parts = []
    if missing:
        parts.append(f'  {len(missing)} of {total} weights are missing from '
                     f'the checkpoint:{_examples(missing)}')
    if shapes:
        parts.append(f'  {len(shapes)} of {total} weights have another '
                     f'shape in the checkpoint:{_examples(shapes)}')
    raise ValueError(
        f'{source} does not fit the model built from the config; these '
        'weights would keep their initial (random) values and the results '
        'would be those of a model that was never trained:\n' +
        '\n'.join(parts) +
        '\nUse the checkpoint of this config (the same model and number of '
        'classes). To fine-tune from a partial checkpoint, train with '
        'load_from=CHECKPOINT, which loads what fits and warns about the '
        'rest.')
