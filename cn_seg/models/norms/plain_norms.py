"""The plain norm layers CN wraps, built from mmcv-style ``norm_cfg`` dicts.

The names are mmcv's (``BN``, ``SyncBN``, ``GN``, ``LN``, ``IN``, ...) and a
layer is built as mmcv's ``build_norm_layer`` builds it, with torch alone, so
that the same ``norm_cfg`` means the same layer with or without OpenMMLab.
"""
import inspect
from typing import Union

from torch import nn

#: mmcv's names of the torch norm layers (``mmcv/cnn/bricks/norm.py``).
PLAIN_NORMS = {
    'BN': nn.BatchNorm2d,
    'BN1d': nn.BatchNorm1d,
    'BN2d': nn.BatchNorm2d,
    'BN3d': nn.BatchNorm3d,
    'SyncBN': nn.SyncBatchNorm,
    'GN': nn.GroupNorm,
    'LN': nn.LayerNorm,
    'IN': nn.InstanceNorm2d,
    'IN1d': nn.InstanceNorm1d,
    'IN2d': nn.InstanceNorm2d,
    'IN3d': nn.InstanceNorm3d,
}


def plain_norm_class(norm_cfg: dict) -> type:
    """The class ``norm_cfg`` builds: its ``type``, a name or a class.

    Args:
        norm_cfg (dict): E.g. ``dict(type='BN')`` or
            ``dict(type=nn.GroupNorm, num_groups=4)``.

    Raises:
        ValueError: If ``norm_cfg`` is not a dict with a known ``type``.
    """
    if not isinstance(norm_cfg, dict) or 'type' not in norm_cfg:
        raise ValueError("CN's norm_cfg must be a dict with a 'type', such "
                         f"as dict(type='BN'), got {norm_cfg!r}.")
    kind = norm_cfg['type']
    if inspect.isclass(kind):
        return kind
    if kind not in PLAIN_NORMS:
        raise ValueError(
            f"CN's norm_cfg type {kind!r} is not a norm CN can wrap; use one "
            f"of {', '.join(PLAIN_NORMS)} or pass the class as the type.")
    return PLAIN_NORMS[kind]


def build_plain_norm(norm_cfg: dict, num_features: Union[int,
                                                         tuple]) -> nn.Module:
    """The layer ``norm_cfg`` describes, as mmcv's ``build_norm_layer`` makes.

    ``eps`` defaults to 1e-5, ``requires_grad`` (default True) applies to
    the parameters, and GN takes ``num_features`` as ``num_channels``.

    Args:
        norm_cfg (dict): The layer's type and its arguments.
        num_features (int | tuple): Channels (the normalized shape for LN).

    Returns:
        nn.Module: The new layer.
    """
    cls = plain_norm_class(norm_cfg)
    kwargs = {k: v for k, v in norm_cfg.items() if k != 'type'}
    requires_grad = kwargs.pop('requires_grad', True)
    kwargs.setdefault('eps', 1e-5)
    if cls is nn.GroupNorm:
        if 'num_groups' not in kwargs:
            raise ValueError(f'GN needs num_groups in its norm_cfg, got '
                             f'{norm_cfg!r}.')
        layer = cls(num_channels=num_features, **kwargs)
    else:
        layer = cls(num_features, **kwargs)
    for param in layer.parameters():
        param.requires_grad = requires_grad
    return layer
