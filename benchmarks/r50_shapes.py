"""The input shape of every norm layer of DeepLabV3-R50-D8 (with its
auxiliary head), from the real mmseg model.

The model is built on the ``meta`` device and run once on a meta input with
a forward pre-hook on each norm layer: shapes without computing anything, so
the paper's 512x1024 batches cost nothing on the CPU.
"""
from typing import List, Tuple

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

BASE = 'mmseg::deeplabv3/deeplabv3_r50-d8_4xb2-80k_cityscapes-512x1024.py'


def model_config(norm_cfg: dict, depth: int = 50) -> Config:
    """mmseg's DeepLabV3-R50-D8 model config with ``norm_cfg`` everywhere
    (``depth=18``: ResNetV1c-18 with the head widths of mmseg's R18
    configs)."""
    init_default_scope('mmseg')
    cfg = Config.fromstring(f"_base_ = ['{BASE}']", '.py')
    for part in (cfg.model.backbone, cfg.model.decode_head,
                 cfg.model.auxiliary_head):
        part.norm_cfg = norm_cfg
    if depth != 50:
        cfg.model.backbone.depth = depth
        cfg.model.decode_head.in_channels = 512
        cfg.model.decode_head.channels = 128
        cfg.model.auxiliary_head.in_channels = 256
        cfg.model.auxiliary_head.channels = 64
    return cfg


def norm_input_shapes(batch: int, height: int,
                      width: int) -> List[Tuple[str, Tuple[int, ...]]]:
    """``(layer name, input shape)`` of each norm layer, in call order.

    Args:
        batch (int): Images per batch.
        height (int): Image height.
        width (int): Image width.

    Returns:
        list[tuple[str, tuple[int, ...]]]: One entry per norm layer call.
    """
    cfg = model_config(dict(type='BN', requires_grad=True))
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    shapes = []
    for name, module in model.named_modules():
        if isinstance(module, _BatchNorm):
            module.register_forward_pre_hook(
                lambda m, args, name=name: shapes.append(
                    (name, tuple(args[0].shape))))
    with torch.no_grad():
        feats = model.extract_feat(
            torch.empty(batch, 3, height, width, device='meta'))
        model.decode_head(feats)
        model.auxiliary_head(feats)
    return shapes
