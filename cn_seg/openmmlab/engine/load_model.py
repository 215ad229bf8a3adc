"""Build a model from a config and load a checkpoint into it, checked.

What the tools that start from a checkpoint (``tools/cn2bn.py``,
``tools/calibrate_bank.py``, ``tools/visualize_features.py``) share: the
model without its pretrained weights (the checkpoint replaces them), and
mmengine's loading with safe loading installed, after
:func:`~cn_seg.openmmlab.engine.model_state.check_model_state`.
"""
from mmengine.config import Config
from mmseg.registry import MODELS
from torch import nn

from .model_state import check_model_state
from .norm_state import checkpoint_state_dict
from .safe_schemes import install_safe_loading


def build_model_to_load(cfg: Config) -> nn.Module:
    """Build ``cfg.model`` without pretrained weights (they get replaced).

    Args:
        cfg (Config): A model config (``cfg.model``).

    Returns:
        nn.Module: The model, its weights at their initial values.
    """
    model_cfg = cfg.model.copy()
    model_cfg.pop('pretrained', None)
    if isinstance(model_cfg.get('backbone'), dict):
        model_cfg.backbone.pop('init_cfg', None)
    return MODELS.build(model_cfg)


def load_checked_checkpoint(model: nn.Module, filename: str) -> dict:
    """Load ``filename`` into ``model`` as mmengine does, weights only,
    refusing a checkpoint that does not fill the model
    (:func:`~cn_seg.openmmlab.engine.model_state.check_model_state`).

    Safe loading is installed first (:func:`install_safe_loading`), so that
    a scheme a plugin registered since is guarded too.

    Args:
        model (nn.Module): The model (unwrapped), changed in place.
        filename (str): A checkpoint path or URL (any scheme mmengine
            loads; weights only).

    Returns:
        dict: The loaded checkpoint (``state_dict``, ``meta``, ...).

    Raises:
        ValueError: From :func:`check_model_state`, before ``model``
            changes.
    """
    from mmengine.runner.checkpoint import (_load_checkpoint,
                                            _load_checkpoint_to_model)
    install_safe_loading()
    checkpoint = _load_checkpoint(filename, map_location='cpu')
    check_model_state(
        model,
        checkpoint_state_dict(checkpoint),
        source=f'Checkpoint {filename}')
    _load_checkpoint_to_model(model, checkpoint)
    return checkpoint
