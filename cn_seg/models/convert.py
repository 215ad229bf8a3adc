"""Converting the norm layers of any PyTorch model into CN layers."""
from typing import Dict

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

from .norms import ConsistentNorm

# Most specific first: SyncBatchNorm and the BatchNorm1d/3d are _BatchNorm.
_BATCH_TYPES = ((nn.SyncBatchNorm, 'SyncBN'), (nn.BatchNorm1d, 'BN1d'),
                (nn.BatchNorm3d, 'BN3d'), (_BatchNorm, 'BN'))
_INSTANCE_TYPES = ((nn.InstanceNorm1d, 'IN1d'), (nn.InstanceNorm3d, 'IN3d'),
                   (_InstanceNorm, 'IN'))
CONVERTED = (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm)


def _kind(types, layer: nn.Module) -> str:
    return next(name for cls, name in types if isinstance(layer, cls))


def plain_norm_cfg(layer: nn.Module, where: str = 'module') -> dict:
    """The ``norm_cfg`` (mmcv's names) that builds a layer like ``layer``.

    Args:
        layer (nn.Module): A BatchNorm (1d/2d/3d), SyncBatchNorm, GroupNorm,
            LayerNorm or InstanceNorm (1d/2d/3d).
        where (str): The layer's name in its model, for messages.

    Returns:
        dict: E.g. ``dict(type='BN', eps=1e-5, momentum=0.1, affine=True,
        track_running_stats=True)``.

    Raises:
        ValueError: If CN cannot hold this layer's state.
    """
    if isinstance(layer, _InstanceNorm):
        if layer.track_running_stats:
            raise ValueError(
                f'convert_cn: {where} is an {type(layer).__name__} with '
                'track_running_stats=True; CN wraps IN without running '
                'statistics only. Build it with track_running_stats=False '
                '(the default) or convert it to a BatchNorm first.')
        return dict(
            type=_kind(_INSTANCE_TYPES, layer),
            eps=layer.eps,
            affine=layer.affine)
    if isinstance(layer, _BatchNorm):
        return dict(
            type=_kind(_BATCH_TYPES, layer),
            eps=layer.eps,
            momentum=layer.momentum,
            affine=layer.affine,
            track_running_stats=layer.track_running_stats)
    if isinstance(layer, nn.GroupNorm):
        return dict(
            type='GN',
            num_groups=layer.num_groups,
            eps=layer.eps,
            affine=layer.affine)
    if isinstance(layer, nn.LayerNorm):
        if layer.weight is not None and layer.bias is None:
            raise ValueError(
                f'convert_cn: {where} is a LayerNorm with bias=False; CN '
                'holds LN with both weight and bias per domain, or neither '
                '(elementwise_affine=False).')
        return dict(
            type='LN',
            eps=layer.eps,
            elementwise_affine=layer.weight is not None)
    raise ValueError(f'convert_cn: {where} ({type(layer).__name__}) is not a '
                     'norm layer CN can wrap (BN, SyncBN, GN, LN, IN).')


def _convert_layer(layer: nn.Module, num_domains: int, eval_domain: int,
                   where: str) -> ConsistentNorm:
    """The CN layer whose every bank holds ``layer``'s state."""
    num_features = (
        tuple(layer.normalized_shape)
        if isinstance(layer, nn.LayerNorm) else layer.num_channels
        if isinstance(layer, nn.GroupNorm) else layer.num_features)
    cn = ConsistentNorm(
        num_features,
        num_domains=num_domains,
        eval_domain=eval_domain,
        norm_cfg=plain_norm_cfg(layer, where))
    floats = [
        t for t in list(layer.parameters()) + list(layer.buffers())
        if t.is_floating_point()
    ]
    if floats:  # the plain layer's device and dtype (e.g. float64, CUDA)
        cn.to(floats[0])
    with torch.no_grad():
        for name, tensor in list(layer.named_parameters(recurse=False)) + \
                list(layer.named_buffers(recurse=False)):
            if tensor is not None and getattr(cn, name, None) is not None:
                getattr(cn, name).copy_(
                    tensor.unsqueeze(0).expand_as(getattr(cn, name)))
    for name, param in layer.named_parameters(recurse=False):
        getattr(cn, name).requires_grad_(param.requires_grad)
    if getattr(layer, 'process_group', None) is not None:
        # A process group is not a config value: take the layer's own.
        cn.process_group = layer.process_group
    return cn.train(layer.training)


def convert_cn(module: nn.Module,
               num_domains: int,
               eval_domain: int = 0) -> nn.Module:
    """Replace every norm layer of a PyTorch model by a CN layer.

    As ``torch.nn.SyncBatchNorm.convert_sync_batchnorm``: each BatchNorm
    (1d/2d/3d), SyncBatchNorm, GroupNorm, LayerNorm and InstanceNorm (without
    running statistics) of ``module`` becomes the CN layer of ``type='CN'``
    over the same plain norm (its eps, momentum, affine,
    track_running_stats, num_groups), whose ``num_domains`` banks all hold
    the replaced layer's state (affine parameters, running statistics and
    their ``requires_grad``), on its device and in its dtype, in its
    train/eval mode. The converted model computes what the plain model
    computes until the banks diverge; route it with
    :func:`cn_seg.domain_routing` and fold it back with
    :func:`cn_seg.fold_cn`. The model is changed in place; a module that is
    itself a norm layer is returned converted. A norm layer shared by two
    parents stays shared; CN layers already present are left as they are.

    Example:
        >>> model = cn_seg.convert_cn(torchvision.models.resnet18(), 2)
        >>> with cn_seg.domain_routing(model, [0, 0, 1, 1]):
        ...     loss = criterion(model(images), labels)

    Args:
        module (nn.Module): The model (or one norm layer).
        num_domains (int): The number of banks of every CN layer.
        eval_domain (int): The bank an unrouted input uses in eval mode.
            Default: 0.

    Returns:
        nn.Module: ``module`` with CN layers (a new module if ``module`` is
        itself a norm layer).

    Raises:
        ValueError: If ``num_domains`` or ``eval_domain`` is invalid, or a
            norm layer cannot be held by CN (an InstanceNorm with
            track_running_stats, a LayerNorm with weight but no bias); the
            message names the layer. Nothing is changed then.
    """
    if isinstance(num_domains,
                  bool) or not isinstance(num_domains, int) or num_domains < 1:
        raise ValueError('convert_cn needs num_domains >= 1 (one bank per '
                         f'domain), got {num_domains!r}.')
    if not isinstance(eval_domain, int) or not 0 <= eval_domain < num_domains:
        raise ValueError(f'convert_cn: eval_domain={eval_domain!r} must be a '
                         f'bank in [0, num_domains={num_domains}).')
    # Every layer is checked before any is replaced: a refusal changes nothing.
    for name, layer in module.named_modules():
        if isinstance(layer, CONVERTED):
            plain_norm_cfg(layer, name or 'the module')
    if isinstance(module, CONVERTED):
        return _convert_layer(module, num_domains, eval_domain, 'the module')
    done: Dict[int, ConsistentNorm] = {}
    for parent_name, parent in list(module.named_modules()):
        if isinstance(parent, ConsistentNorm):
            continue
        # _modules, not named_children(): it would skip a repeated child.
        for name, child in list(parent._modules.items()):
            if not isinstance(child, CONVERTED):
                continue
            if id(child) not in done:
                where = f'{parent_name}.{name}' if parent_name else name
                done[id(child)] = _convert_layer(child, num_domains,
                                                 eval_domain, where)
            setattr(parent, name, done[id(child)])
    return module
