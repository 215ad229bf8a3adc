"""Refuse a checkpoint whose normalization state does not fit the model.

mmengine loads checkpoints with ``strict=False``: a norm layer whose tensors
are missing from the checkpoint or have another shape keeps its initial
state (weight 1, bias 0, mean 0, var 1) with only a "size mismatch" warning,
so a model tested or folded from the wrong checkpoint (2 CN banks into a
3-bank config, a CN checkpoint into a BN config) reports numbers of a model
that was never trained. :func:`check_norm_state` is strict about the norm
layers only: every parameter and persistent buffer of every norm layer (BN,
SyncBN, GN, LN, IN and CN) must be in the checkpoint with a compatible
shape. The rest of the model keeps mmengine's loose loading (a new
``conv_seg`` for other classes is fine).

Compatible: the same shape; or, for a CN layer, a plain norm's shape (a BN
checkpoint's ``(C,)`` fills every bank of shape ``(num_domains, C)``, as
:class:`cn_seg.ConsistentNorm` loads it), except on ``--resume``, which
continues a run and its optimizer state and so needs the banks themselves.
``num_batches_tracked`` may be absent (torch fills it for old checkpoints).
"""
import re
from collections import defaultdict
from typing import Dict, Iterator, List, Optional, Tuple

import torch
from torch import nn
from torch.nn.modules.batchnorm import _NormBase

from cn_seg.models import ConsistentNorm

_NORM_TYPES = (_NormBase, nn.GroupNorm, nn.LayerNorm, ConsistentNorm)
_OPTIONAL = ('num_batches_tracked', )
_EXAMPLES = 5

# What each kind of mismatch means, and what to change.
_FIXES = {
    'missing':
    ('missing from the checkpoint: it is not a checkpoint of this model. '
     'load_from, --resume and tools/test.py need a checkpoint of the '
     'whole segmentor; a backbone checkpoint (e.g. ImageNet weights) goes '
     "to model.backbone.init_cfg=dict(type='Pretrained', checkpoint=...) "
     'or model.pretrained instead'),
    'banks':
    ('the checkpoint has another number of CN banks than the config: set '
     "num_domains in the config's CN norm_cfg to the checkpoint's (the "
     'domains it was trained with), or use the config it was trained '
     'with'),
    'cn_into_plain':
    ('the checkpoint holds CN banks but the config builds plain norm '
     'layers: use the CN config it was trained with, or fold one bank '
     'into a plain BN model with tools/cn2bn.py CONFIG CHECKPOINT OUT_DIR '
     '--domain K'),
    'plain_on_resume':
    ('--resume continues a run from its own checkpoint, optimizer state '
     'included, but this checkpoint holds plain (one-bank) norm state for '
     'CN layers: to start a CN training from BN weights, set '
     'load_from=CHECKPOINT without --resume (tools/train.py CONFIG '
     '--cfg-options load_from=CHECKPOINT); the plain state then fills '
     'every bank'),
    'shape': ('the shapes differ (another width or depth): use the config the '
              'checkpoint was trained with'),
}


def checkpoint_state_dict(checkpoint: dict) -> Dict[str, torch.Tensor]:
    """The model state of a checkpoint, keyed as mmengine loads it.

    As mmengine's ``_load_checkpoint_to_model``: ``checkpoint['state_dict']``
    if present, else the checkpoint itself, with a leading ``module.``
    (a model wrapper's prefix) removed.
    """
    state_dict = checkpoint.get('state_dict', checkpoint)
    return {re.sub(r'^module\.', '', k): v for k, v in state_dict.items()}


def _norm_tensors(
        model: nn.Module) -> Iterator[Tuple[str, str, torch.Tensor, bool]]:
    """``(layer, key, tensor, in_cn)`` of every norm layer's state."""
    cn_layers = [
        n for n, m in model.named_modules() if isinstance(m, ConsistentNorm)
    ]
    for name, module in model.named_modules():
        if not isinstance(module, _NORM_TYPES):
            continue
        in_cn = any(name == c or name.startswith(c + '.') for c in cn_layers)
        prefix = f'{name}.' if name else ''
        tensors = list(module._parameters.items()) + [
            (k, b) for k, b in module._buffers.items()
            if k not in module._non_persistent_buffers_set
        ]
        for key, tensor in tensors:
            if tensor is not None:
                yield name, prefix + key, tensor, in_cn


def _mismatch(value, tensor: torch.Tensor, in_cn: bool,
              resume: bool) -> Optional[str]:
    """The kind of mismatch of a checkpoint entry, or None if it loads."""
    if not isinstance(value, torch.Tensor):
        return 'shape'
    if value.shape == tensor.shape:
        return None
    rest = tensor.shape[1:]
    if in_cn and value.shape == rest:
        return 'plain_on_resume' if resume else None
    if in_cn and value.dim() == tensor.dim() and value.shape[1:] == rest:
        return 'banks'
    if not in_cn and value.shape[1:] == tensor.shape:
        return 'cn_into_plain'
    return 'shape'


def _shape(value) -> str:
    if not isinstance(value, torch.Tensor):
        return type(value).__name__
    return str(tuple(value.shape))


def norm_state_mismatches(model: nn.Module,
                          state_dict: Dict[str, torch.Tensor],
                          resume: bool = False) -> Dict[str, List[str]]:
    """Norm layers whose state the checkpoint cannot fill, by kind.

    Args:
        model (nn.Module): The model to load into (unwrapped).
        state_dict (dict): The checkpoint's model state
            (:func:`checkpoint_state_dict`).
        resume (bool): Whether the checkpoint resumes a run (plain state
            into CN banks is then refused). Default: False.

    Returns:
        dict[str, list[str]]: For each kind of mismatch (keys of
        ``_FIXES``), one line per layer: the layer's first mismatched
        tensor with the checkpoint's and the model's shapes.
    """
    found = defaultdict(dict)
    for layer, key, tensor, in_cn in _norm_tensors(model):
        if key not in state_dict:
            if key.rsplit('.', 1)[-1] in _OPTIONAL:
                continue
            kind, line = 'missing', f'{key}: missing, model {_shape(tensor)}'
        else:
            value = state_dict[key]
            kind = _mismatch(value, tensor, in_cn, resume)
            if kind is None:
                continue
            line = (f'{key}: checkpoint {_shape(value)}, model '
                    f'{_shape(tensor)}')
        found[kind].setdefault(layer, line)
    return {kind: list(layers.values()) for kind, layers in found.items()}


def check_norm_state(model: nn.Module,
                     state_dict: Dict[str, torch.Tensor],
                     source: str = 'the checkpoint',
                     resume: bool = False) -> None:
    """Raise unless every norm layer of ``model`` loads from ``state_dict``.

    Args:
        model (nn.Module): The model to load into (unwrapped).
        state_dict (dict): The checkpoint's model state
            (:func:`checkpoint_state_dict`).
        source (str): The checkpoint's name, for the message.
        resume (bool): Whether the checkpoint resumes a run. Default: False.

    Raises:
        ValueError: If some norm layers would keep their initial state; the
            message names a few of them, how many in all, and what to change.
    """
    mismatches = norm_state_mismatches(model, state_dict, resume)
    if not mismatches:
        return
    num_layers = len({layer for layer, *_ in _norm_tensors(model)})
    parts = []
    for kind, lines in mismatches.items():
        shown = '\n    '.join(lines[:_EXAMPLES])
        more = (f'\n    ... and {len(lines) - _EXAMPLES} more'
                if len(lines) > _EXAMPLES else '')
        parts.append(f'  {len(lines)} of {num_layers} norm layers: '
                     f'{_FIXES[kind]}.\n    {shown}{more}')
    raise ValueError(
        f'{source} does not fit the normalization layers of the model built '
        'from the config; loading it would leave them at their initial state '
        '(weight 1, bias 0, mean 0, var 1) and give a wrong model.\n' +
        '\n'.join(parts))
