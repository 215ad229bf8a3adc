"""Fold a CN checkpoint into a plain mmseg model: weights and config."""
import logging
import os
import os.path as osp
from typing import Tuple

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import init_default_scope

from cn_seg.models import ConsistentNorm, fold_cn
from ..engine.bank_coverage import untrained_bank_warning, untrained_banks
from ..engine.load_model import build_model_to_load, load_checked_checkpoint
from .deploy_config import deploy_config


def fold_checkpoint(config: str,
                    checkpoint: str,
                    out_dir: str,
                    domain: int = 0) -> Tuple[str, str]:
    """Write the plain model of CN bank ``domain``: config.py and model.pth.

    The checkpoint must fill every norm layer of the CN model
    (:func:`cn_seg.openmmlab.engine.norm_state.check_norm_state`: one with
    another number of banks, or without some norm layers, is refused), and
    the folded weights are checked against the deployment config: the model
    that config builds (without CN) loads them strictly.

    Args:
        config (str): The CN model's config file.
        checkpoint (str): Its checkpoint (a training or resume checkpoint).
        out_dir (str): Output folder, created if needed.
        domain (int): The bank to keep. Default: 0.

    Returns:
        tuple[str, str]: Paths of the written config and weights.

    Raises:
        FileNotFoundError: If ``config`` or ``checkpoint`` does not exist.
        ValueError: If the model has no CN layer, the checkpoint does not fit
            its norm layers, or ``domain`` is not a bank.
    """
    for path in (config, checkpoint):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{path} does not exist.')
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = build_model_to_load(cfg)
    num_cn = sum(isinstance(m, ConsistentNorm) for m in model.modules())
    if num_cn == 0:
        raise ValueError(f'{config} builds a model without CN layers: there '
                         'is nothing to fold; deploy it as it is.')
    source = load_checked_checkpoint(model, checkpoint)
    untrained = untrained_banks(model).get(domain)
    if untrained:
        print_log(
            untrained_bank_warning({domain: untrained},
                                   'the folded model normalizes with mean 0 '
                                   'and variance 1'),
            logger='current',
            level=logging.WARNING)
    model = fold_cn(model, domain).eval()

    plain_cfg = deploy_config(cfg, domain)
    state_dict = model.state_dict()
    build_model_to_load(plain_cfg).load_state_dict(state_dict, strict=True)

    meta = dict(
        cn_seg=dict(
            folded_from=osp.abspath(checkpoint),
            domain=domain,
            num_cn_layers=num_cn))
    dataset_meta = source.get('meta', {}).get('dataset_meta')
    if dataset_meta is not None:
        meta['dataset_meta'] = dict(
            classes=tuple(dataset_meta['classes']),
            palette=[list(map(int, c)) for c in dataset_meta['palette']])
    os.makedirs(out_dir, exist_ok=True)
    model_path = osp.join(out_dir, 'model.pth')
    config_path = osp.join(out_dir, 'config.py')
    torch.save(dict(meta=meta, state_dict=state_dict), model_path)
    plain_cfg.dump(config_path)
    print_log(f'Folded {num_cn} CN layers to bank {domain}.', logger='current')
    return config_path, model_path
