"""Checkpoints whose norm state does not fit the model are refused.

On the demo DeepLabV3-R18 built from its configs (BN, CN with 2 and with 3
banks): a state dict of one model is checked against another, and what
loads is compared with the source tensors.
"""
import pytest
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import _load_checkpoint_to_model
from mmseg.registry import MODELS

from cn_seg.openmmlab.engine.norm_state import (check_norm_state,
                                                checkpoint_state_dict,
                                                norm_state_mismatches)
from tests.test_tools.tiny_demo import DEMO_BN, DEMO_CN


def _model(config, num_domains=None):
    cfg = Config.fromfile(config)
    if num_domains is not None:
        for part in ('backbone', 'decode_head', 'auxiliary_head'):
            cfg.model[part].norm_cfg.num_domains = num_domains
    return MODELS.build(cfg.model)


@pytest.fixture(scope='module')
def models():
    torch.manual_seed(0)
    built = dict(
        bn=_model(DEMO_BN),
        cn2=_model(DEMO_CN),
        cn3=_model(DEMO_CN, num_domains=3))
    # Trained-looking state: no norm tensor at its initial value.
    for model in built.values():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                tensor.uniform_(0.5, 1.5)
    return built


def _norm_layers(model):
    return [
        n for n, m in model.named_modules()
        if isinstance(m, torch.nn.modules.batchnorm._NormBase)
    ]


def test_own_checkpoint_passes(models):
    for model in models.values():
        check_norm_state(model, model.state_dict())
        check_norm_state(model, model.state_dict(), resume=True)


def test_two_banks_into_three_are_refused(models):
    with pytest.raises(ValueError) as info:
        check_norm_state(
            models['cn3'],
            models['cn2'].state_dict(),
            source='Checkpoint two_banks.pth')
    message = str(info.value)
    num_layers = len(_norm_layers(models['cn3']))
    assert message.startswith('Checkpoint two_banks.pth does not fit')
    assert f'{num_layers} of {num_layers} norm layers' in message
    assert 'set num_domains' in message
    assert 'backbone.stem.1.weight: checkpoint (2, 8), model (3, 8)' in message
    assert f'... and {num_layers - 5} more' in message


def test_cn_checkpoint_into_bn_config_is_refused(models):
    with pytest.raises(ValueError, match='tools/cn2bn.py') as info:
        check_norm_state(models['bn'], models['cn2'].state_dict())
    assert 'backbone.stem.1.weight: checkpoint (2, 8), model (8,)' in str(
        info.value)


def test_bn_checkpoint_fills_every_cn_bank(models):
    bn_state = models['bn'].state_dict()
    check_norm_state(models['cn3'], bn_state)
    cn = _model(DEMO_CN, num_domains=3)
    _load_checkpoint_to_model(cn, dict(state_dict=bn_state))
    loaded = cn.state_dict()
    for layer in _norm_layers(cn):
        for key in ('weight', 'bias', 'running_mean', 'running_var'):
            bank = loaded[f'{layer}.{key}']
            assert bank.shape[0] == 3
            for k in range(3):
                torch.testing.assert_close(
                    bank[k], bn_state[f'{layer}.{key}'], rtol=0, atol=0)


def test_resume_of_a_bn_checkpoint_into_cn_is_refused(models):
    with pytest.raises(
            ValueError, match='load_from=CHECKPOINT without '
            '--resume'):
        check_norm_state(models['cn2'], models['bn'].state_dict(), resume=True)


def test_missing_norm_layers_are_refused(models):
    """A backbone checkpoint given as load_from: its keys lack 'backbone.'."""
    backbone_only = {
        k[len('backbone.'):]: v
        for k, v in models['cn2'].state_dict().items()
        if k.startswith('backbone.')
    }
    with pytest.raises(ValueError, match="init_cfg=dict\\(type='Pretrained'"):
        check_norm_state(models['cn2'], backbone_only)


def test_other_heads_and_old_checkpoints_pass(models):
    """Only norms are strict: a new conv_seg (other classes) loads as in
    mmengine; num_batches_tracked may be absent, as torch allows."""
    state = {
        k: v
        for k, v in models['cn2'].state_dict().items()
        if not k.endswith('num_batches_tracked')
    }
    state['decode_head.conv_seg.weight'] = torch.zeros(7, 64, 1, 1)
    assert norm_state_mismatches(models['cn2'], state) == {}


def test_wrapped_checkpoint_keys_are_unwrapped(models):
    state = {f'module.{k}': v for k, v in models['bn'].state_dict().items()}
    assert checkpoint_state_dict(dict(state_dict=state, meta={})).keys() == \
        models['bn'].state_dict().keys()
