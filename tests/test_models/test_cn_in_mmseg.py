"""CN inside mmseg models: naming, checkpoints, ResNet options, optimizers."""
import copy

import pytest
import torch
from mmcv.cnn import build_norm_layer
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope, init_default_scope
from mmengine.runner import Runner
from mmseg.registry import MODELS
from torch import nn

from cn_seg import ConsistentNorm, domain_routing
from cn_seg.openmmlab.engine.hooks import DomainRoutingHook

CN = dict(
    type='CN', num_domains=2, norm_cfg=dict(type='BN'), requires_grad=True)


def _resnet(norm_cfg, **kwargs):
    cfg = dict(
        type='ResNetV1c',
        depth=18,
        base_channels=8,
        stem_channels=8,
        norm_cfg=norm_cfg,
        out_indices=(3, ),
        **kwargs)
    return MODELS.build(cfg)


def test_registered_as_cn_and_named_bn_in_any_scope():
    for scope in ('mmseg', 'mmengine', 'mmdet'):
        with DefaultScope.overwrite_default_scope(scope):
            name, layer = build_norm_layer(CN, 8, postfix=1)
            assert name == 'bn1' and isinstance(layer, ConsistentNorm)
    init_default_scope('mmseg')
    assert MODELS.get('ConsistentNorm') is ConsistentNorm


def test_resnet_keys_match_the_plain_model():
    plain, cn = _resnet(dict(type='BN')), _resnet(CN)
    assert list(plain.state_dict()) == list(cn.state_dict())


def test_plain_checkpoint_fills_every_bank_and_cn_checkpoint_round_trips():
    plain, cn = _resnet(dict(type='BN')), _resnet(CN)
    with torch.no_grad():
        for t in list(plain.parameters()) + list(plain.buffers()):
            t.copy_(torch.rand_like(t.float()).to(t.dtype) * 5)
    result = cn.load_state_dict(plain.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for key, value in plain.state_dict().items():
        loaded = cn.state_dict()[key]
        if loaded.shape != value.shape:  # a bank dimension in front
            for k in range(2):
                torch.testing.assert_close(loaded[k], value)
        else:
            torch.testing.assert_close(loaded, value)
    # Make the banks differ, save, load into a fresh CN model: exact.
    with torch.no_grad():
        cn.stem[1].weight[1] += 1
        cn.layer1[0].bn1.running_mean[0] -= 2
    fresh = _resnet(CN)
    result = fresh.load_state_dict(copy.deepcopy(cn.state_dict()), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for key, value in cn.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key


def test_mmengine_checkpoint_loader_reports_no_key_noise(tmp_path):
    """A plain checkpoint loads into CN without mmengine's mismatch report.

    The report is what mmengine really emits (``print_log`` ->
    ``logger.log(WARNING, ...)``), caught by a handler on the logger; a
    checkpoint with an extra key shows that the handler catches it.
    """
    import logging

    from mmengine.logging import MMLogger
    from mmengine.runner import load_checkpoint

    class Records(logging.Handler):

        def __init__(self):
            super().__init__(logging.WARNING)
            self.messages = []

        def emit(self, record):
            self.messages.append(record.getMessage())

    plain, cn = _resnet(dict(type='BN')), _resnet(CN)
    logger = MMLogger.get_instance('cn_test_load', log_level='WARNING')
    records = Records()
    logger.addHandler(records)
    try:
        for name, extra in (('plain', {}), ('extra', {'extra.weight': 1})):
            path = tmp_path / f'{name}.pth'
            torch.save({'state_dict': {**plain.state_dict(), **extra}}, path)
            load_checkpoint(cn, str(path), logger=logger, strict=False)
            if name == 'plain':
                assert records.messages == []
    finally:
        logger.removeHandler(records)
    (report, ) = records.messages
    assert 'do not match' in report and 'unexpected key' in report
    assert 'extra.weight' in report and 'missing' not in report


def test_requires_grad_false_and_norm_eval_and_frozen_stages():
    frozen = dict(CN, requires_grad=False)
    model = _resnet(frozen, norm_eval=True, frozen_stages=1)
    model.train()  # mmseg's ResNet.train() returns None
    cns = [m for m in model.modules() if isinstance(m, ConsistentNorm)]
    assert cns and all(not p.requires_grad for m in cns
                       for p in m.parameters())
    assert all(not m.training for m in cns)  # norm_eval
    # frozen_stages=1 freezes the stem and layer1 of a trainable model too.
    model = _resnet(CN, frozen_stages=1)
    model.train()
    assert not model.stem[1].training and not model.layer1[0].bn1.training
    assert not model.layer1[0].bn1.weight.requires_grad
    assert model.layer2[0].bn1.training and model.layer2[
        0].bn1.weight.requires_grad
    # A frozen (eval-mode) CN layer inside a training model needs no route.
    x = torch.randn(4, 3, 32, 32)  # layer4 is 1x1: two samples per bank
    with domain_routing(model, [0, 0, 1, 1]):
        model(x)[0].sum().backward()


def test_norm_decay_mult_applies_to_cn_parameters():
    model = nn.Sequential(nn.Conv2d(3, 4, 1), build_norm_layer(CN, 4)[1])
    wrapper = build_optim_wrapper(
        model,
        dict(
            optimizer=dict(type='SGD', lr=0.1, weight_decay=1e-4),
            paramwise_cfg=dict(norm_decay_mult=0.0)))
    decays = {
        id(p): g['weight_decay']
        for g in wrapper.optimizer.param_groups
        for p in g['params']
    }
    assert decays[id(model[1].weight)] == 0.0
    assert decays[id(model[1].bias)] == 0.0
    assert decays[id(model[0].weight)] == 1e-4


def test_runner_revert_sync_bn_keeps_banks():
    sync_cn = dict(CN, norm_cfg=dict(type='SyncBN'))
    model = _resnet(sync_cn)
    with torch.no_grad():
        model.stem[1].weight[1] += 3
    state = copy.deepcopy(model.state_dict())
    reverted = revert_sync_batchnorm(model)
    cns = [m for m in reverted.modules() if isinstance(m, ConsistentNorm)]
    assert len(cns) == sum(1 for k in state if k.endswith('running_mean'))
    for key, value in reverted.state_dict().items():
        assert torch.equal(value, state[key])
    # Without a process group, CN over SyncBN trains as per-domain BN.
    reverted.train()
    with domain_routing(reverted, [0, 0, 1, 1]):
        reverted(torch.randn(4, 3, 32, 32))


def test_routing_hook_refuses_what_sync_bn_rebuilt(tmp_path):
    """A distributed Runner with ``sync_bn`` rebuilds the model's norm layers
    as torch SyncBatchNorm; DomainRoutingHook.before_run stops that run."""
    runner = Runner(model=_resnet(CN), work_dir=str(tmp_path))
    hook = DomainRoutingHook()
    hook.before_run(runner)  # CN layers as built: routed
    nn.SyncBatchNorm.convert_sync_batchnorm(runner.model)  # in place
    with pytest.raises(ValueError, match="norm_cfg=dict\\(type='SyncBN'\\)"):
        hook.before_run(runner)


def test_routing_hook_warns_about_missing_safety_hooks(tmp_path):
    """A config that lists DomainRoutingHook alone (as README's snippet did)
    is told which of cn_runtime's hooks it lacks; with them, nothing."""
    import logging

    from cn_seg.openmmlab.engine import (AtomicCheckpointHook,
                                         NormStateCheckHook, RandomStateHook,
                                         SafeLoadingHook)
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    bare, safe = _resnet(CN), _resnet(CN)  # before a Runner sets its scope
    runner = Runner(model=bare, work_dir=str(tmp_path / 'bare'))
    runner.logger.addHandler(handler)
    try:
        DomainRoutingHook().before_run(runner)
        (warning, ) = [r.getMessage() for r in records]
        assert warning.startswith(
            'DomainRoutingHook: this run has no SafeLoadingHook, '
            'NormStateCheckHook, RandomStateHook, AtomicCheckpointHook '
            '(default_hooks.checkpoint), so checkpoints of any source may '
            'run code')
        assert "configs/_base_/cn_runtime.py" in warning
        records.clear()
        safe = Runner(
            model=safe,
            work_dir=str(tmp_path / 'safe'),
            default_hooks=dict(checkpoint=AtomicCheckpointHook(interval=1)),
            custom_hooks=[
                SafeLoadingHook(),
                NormStateCheckHook(),
                RandomStateHook()
            ])
        DomainRoutingHook().before_run(safe)
        assert records == []
    finally:
        runner.logger.removeHandler(handler)
