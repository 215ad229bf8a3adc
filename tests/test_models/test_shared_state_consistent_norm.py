"""SharedStateConsistentNorm (the Table 6 ablation) against plain BN run on
each domain's samples in turn."""
import pytest
import torch
from mmcv.cnn import build_norm_layer
from torch import nn

from cn_seg import domain_routing
from cn_seg.models import SharedStateConsistentNorm

TOL64 = dict(rtol=1e-10, atol=1e-10)


def _plain_bn_in_turn(bn, x, domain_idx, order):
    """Plain BN on each domain's samples, domains in ``order``."""
    idx = torch.as_tensor(domain_idx)
    out = torch.zeros_like(x)
    for k in order:
        sel = (idx == k).nonzero().flatten()
        out = out.index_copy(0, sel, bn(x.index_select(0, sel)))
    return out


@pytest.mark.parametrize('momentum', [0.1, None])
@pytest.mark.parametrize('domain_idx,order', [([0, 0, 0, 1, 1], [0, 1]),
                                              ([1, 0, 1, 0, 0], [0, 1])])
def test_trains_as_plain_bn_on_each_domain_in_turn(momentum, domain_idx,
                                                   order):
    layer = build_norm_layer(
        dict(
            type='SharedStateConsistentNorm',
            num_domains=2,
            norm_cfg=dict(type='BN', momentum=momentum)), 4)[1]
    layer = layer.double().train()
    assert layer.weight.shape == (4, ) and layer.running_mean.shape == (4, )
    bn = nn.BatchNorm2d(4, momentum=momentum).double().train()
    with torch.no_grad():
        layer.weight.fill_(1.5)
        bn.weight.fill_(1.5)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(5, 4, 3, 3, generator=g, dtype=torch.float64)
    other = torch.tensor(domain_idx) == 1
    x[other] = x[other] * 4 + 2  # domain 1 has other statistics
    grad_out = torch.randn(x.shape, generator=g, dtype=torch.float64)
    xr = x.clone().requires_grad_()
    ref = _plain_bn_in_turn(bn, xr, domain_idx, order)
    ref.backward(grad_out)
    xc = x.clone().requires_grad_()
    with domain_routing(layer, domain_idx):
        out = layer(xc)
    out.backward(grad_out)
    torch.testing.assert_close(out, ref, **TOL64)
    torch.testing.assert_close(xc.grad, xr.grad, **TOL64)
    torch.testing.assert_close(layer.weight.grad, bn.weight.grad, **TOL64)
    torch.testing.assert_close(layer.running_mean, bn.running_mean, **TOL64)
    torch.testing.assert_close(layer.running_var, bn.running_var, **TOL64)
    assert int(layer.num_batches_tracked) == int(bn.num_batches_tracked) == 2
    layer.eval()
    bn.eval()
    with domain_routing(layer, [1, 0, 1, 1, 0]):
        torch.testing.assert_close(layer(x), bn(x), **TOL64)
    torch.testing.assert_close(layer(x), bn(x), **TOL64)


def test_state_is_plain_bn_and_old_share_state_checkpoints_load():
    layer = SharedStateConsistentNorm(3, num_domains=2)
    bn = nn.BatchNorm2d(3)
    assert {k: v.shape for k, v in layer.state_dict().items()} == \
        {k: v.shape for k, v in bn.state_dict().items()}
    old = {
        k: torch.full((1, ) + v.shape, 2.0, dtype=v.dtype)
        for k, v in bn.state_dict().items()
    }  # CN(share_state=True)
    layer.load_state_dict(old)
    assert torch.equal(layer.running_mean, torch.full((3, ), 2.0))
    assert int(layer.num_batches_tracked) == 2


def test_training_without_routing_says_how_to_route():
    layer = SharedStateConsistentNorm(3).train()
    with pytest.raises(RuntimeError, match='DomainRoutingHook'):
        layer(torch.randn(4, 3, 2, 2))


def test_across_processes_is_refused_with_the_fix(monkeypatch):
    layer = build_norm_layer(
        dict(type='SharedStateConsistentNorm', norm_cfg=dict(type='SyncBN')),
        4)[1]
    monkeypatch.setattr(torch.distributed, 'is_initialized', lambda: True)
    monkeypatch.setattr(
        torch.distributed, 'get_world_size', lambda group=None: 2)
    with pytest.raises(ValueError, match="norm_cfg=dict\\(type='BN'\\)"):
        with domain_routing(layer, [0, 0, 1, 1]):
            layer.train()(torch.randn(4, 4, 2, 2))


def test_a_sample_wise_norm_is_refused():
    with pytest.raises(ValueError, match="type='CN'"):
        SharedStateConsistentNorm(4, norm_cfg=dict(type='GN', num_groups=2))
