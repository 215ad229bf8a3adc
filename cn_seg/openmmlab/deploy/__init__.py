"""Deployment: a CN checkpoint and config as the plain mmseg model of one bank.

:func:`cn_seg.fold_cn` folds the modules; :func:`deploy_config` rewrites the
config; :func:`fold_checkpoint` does both for a checkpoint file
(``tools/cn2bn.py``).
"""
from .deploy_config import deploy_config
from .fold_checkpoint import fold_checkpoint

__all__ = ['deploy_config', 'fold_checkpoint']
