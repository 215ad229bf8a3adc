"""ConsistentNorm against plain norm layers run on each domain's samples."""
import copy

import pytest
import torch
from mmcv.cnn import build_norm_layer
from torch import nn

from cn_seg import ConsistentNorm, domain_routing
from cn_seg.models.norms import kernels

TOL64 = dict(rtol=1e-10, atol=1e-10)
TOL32 = dict(rtol=1e-4, atol=1e-5)


@pytest.fixture(params=['cpu-kernels', 'pytorch'])
def bn_path(request, monkeypatch):
    """Run a test on the compiled CPU kernels and on the pure-PyTorch path."""
    if request.param == 'pytorch':
        monkeypatch.setattr(kernels, '_C', None)
    elif kernels._C is None:
        pytest.skip('cn_seg._C was not compiled (install without torch)')
    return request.param


def _make_cn(channels, t, inner=None, dtype=torch.float64, seed=0):
    """A CN layer whose banks all differ (so a wrong bank shows)."""
    inner = inner or dict(type='BN')
    cn = build_norm_layer(dict(type='CN', num_domains=t, norm_cfg=inner),
                          channels)[1].to(dtype)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        if cn.weight is not None:
            cn.weight.copy_(1 + 0.5 * torch.randn(cn.weight.shape, generator=g))
            cn.bias.copy_(torch.randn(cn.bias.shape, generator=g))
        if cn.running_mean is not None:
            cn.running_mean.copy_(torch.randn(cn.running_mean.shape,
                                              generator=g))
            cn.running_var.copy_(torch.rand(cn.running_var.shape,
                                            generator=g) + 0.5)
    return cn


def _plain_bank(cn, k):
    """An independent plain layer (built by mmcv) holding bank k's state."""
    plain = build_norm_layer(cn.norm_cfg, cn.num_features)[1].to(
        cn.weight.dtype)
    with torch.no_grad():
        for name, t in list(cn.named_parameters()) + list(cn.named_buffers()):
            getattr(plain, name).copy_(t[k])
    return plain.train(cn.training)


def _reference(cn, x, domain_idx, grad_out):
    """Algorithm 1: each domain's samples through its own plain layer."""
    banks = [_plain_bank(cn, k) for k in range(cn.num_domains)]
    x = x.detach().clone().requires_grad_()
    idx = torch.as_tensor(domain_idx)
    out = torch.empty_like(x)
    for k, bank in enumerate(banks):
        sel = (idx == k).nonzero().flatten()
        if len(sel):
            out = out.index_copy(0, sel, bank(x[sel]))
    out.backward(grad_out)
    return out, x.grad, banks


@pytest.mark.parametrize('domain_idx', [
    [0, 1, 1, 0, 1, 0],          # shuffled, 2 domains
    [1, 1, 1, 1, 0, 0, 1],       # unequal counts, grouped
    [2, 0, 1, 2, 2, 0, 1, 1],    # 3 domains shuffled
    [3, 1, 0, 2, 3, 3, 1, 0, 2],  # 4 domains
    [0, 0, 1, 1, 2, 2, 3, 3],    # 4 domains grouped (zero-copy path)
])
@pytest.mark.parametrize('dtype,tol', [(torch.float64, TOL64),
                                       (torch.float32, TOL32)])
def test_training_equals_plain_bn_per_domain(domain_idx, dtype, tol,
                                             bn_path):
    t = max(domain_idx) + 1
    cn = _make_cn(5, t, dtype=dtype).train()
    ref_cn = copy.deepcopy(cn)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(len(domain_idx), 5, 6, 7, generator=g, dtype=dtype) * 3 + 1
    grad_out = torch.randn(x.shape, generator=g, dtype=dtype)
    ref_out, ref_gx, banks = _reference(ref_cn, x, domain_idx, grad_out)

    x = x.clone().requires_grad_()
    with domain_routing(cn, domain_idx):
        out = cn(x)
    out.backward(grad_out)

    torch.testing.assert_close(out, ref_out, **tol)
    torch.testing.assert_close(x.grad, ref_gx, **tol)
    for k, bank in enumerate(banks):
        torch.testing.assert_close(cn.weight.grad[k], bank.weight.grad, **tol)
        torch.testing.assert_close(cn.bias.grad[k], bank.bias.grad, **tol)
        torch.testing.assert_close(cn.running_mean[k], bank.running_mean,
                                   **tol)
        torch.testing.assert_close(cn.running_var[k], bank.running_var, **tol)
        assert int(cn.num_batches_tracked[k]) == int(bank.num_batches_tracked)


def test_cumulative_momentum_matches_plain_bn(bn_path):
    """momentum=None: each bank keeps a cumulative average of its batches."""
    cn = _make_cn(3, 2, inner=dict(type='BN', momentum=None)).train()
    banks = [_plain_bank(cn, k) for k in range(2)]
    g = torch.Generator().manual_seed(2)
    for step, idx in enumerate([[0, 1, 1, 1], [1, 0, 0, 1], [1, 1, 1, 1]]):
        x = torch.randn(4, 3, 5, 5, generator=g, dtype=torch.float64) + step
        with domain_routing(cn, idx):
            cn(x)
        for k, bank in enumerate(banks):
            sel = (torch.tensor(idx) == k).nonzero().flatten()
            if len(sel):
                bank(x[sel])
    for k, bank in enumerate(banks):
        torch.testing.assert_close(cn.running_mean[k], bank.running_mean,
                                   **TOL64)
        torch.testing.assert_close(cn.running_var[k], bank.running_var,
                                   **TOL64)
    assert cn.num_batches_tracked.tolist() == [2, 3]


def test_absent_domain_bank_is_untouched(bn_path):
    cn = _make_cn(4, 3).train()
    before = copy.deepcopy(cn.state_dict())
    x = torch.randn(4, 4, 3, 3, dtype=torch.float64, requires_grad=True)
    with domain_routing(cn, [0, 2, 0, 2]):
        cn(x).sum().backward()
    after = cn.state_dict()
    for name in ('running_mean', 'running_var', 'num_batches_tracked'):
        torch.testing.assert_close(after[name][1], before[name][1])
        assert not torch.equal(after[name][0], before[name][0])
    assert torch.all(cn.weight.grad[1] == 0)
    assert torch.isfinite(cn.weight.grad).all()


def test_eval_mode_uses_running_stats_of_each_bank():
    cn = _make_cn(4, 2).eval()
    x = torch.randn(5, 4, 3, 3, dtype=torch.float64)
    idx = [1, 0, 1, 1, 0]
    with domain_routing(cn, idx):
        out = cn(x)
    for i, k in enumerate(idx):
        torch.testing.assert_close(out[i:i + 1], _plain_bank(cn, k)(x[i:i + 1]),
                                   **TOL64)
    # Without routing, every sample uses eval_domain (0 by default).
    torch.testing.assert_close(cn(x), _plain_bank(cn, 0)(x), **TOL64)
    cn1 = _make_cn(4, 2)
    cn1.eval_domain = 1
    torch.testing.assert_close(cn1.eval()(x), _plain_bank(cn1, 1).eval()(x),
                               **TOL64)


@pytest.mark.parametrize('inner', [
    dict(type='GN', num_groups=2),
    dict(type='IN', affine=True),
    dict(type='LN'),
])
def test_sample_wise_norms_get_per_domain_affine(inner):
    cn = _make_cn(4, 3, inner=inner).train()
    assert cn.running_mean is None and cn.weight.shape == (3, 4)
    shape = (6, 5, 4) if inner['type'] == 'LN' else (6, 4, 5, 5)
    x = torch.randn(*shape, dtype=torch.float64)
    grad_out = torch.randn_like(x)
    idx = [2, 0, 1, 0, 2, 2]
    ref_out, ref_gx, banks = _reference(cn, x, idx, grad_out)
    x = x.clone().requires_grad_()
    with domain_routing(cn, idx):
        out = cn(x)
    out.backward(grad_out)
    torch.testing.assert_close(out, ref_out, **TOL64)
    torch.testing.assert_close(x.grad, ref_gx, **TOL64)
    for k, bank in enumerate(banks):
        torch.testing.assert_close(cn.weight.grad[k], bank.weight.grad, **TOL64)


def test_unrouted_training_raises_with_instructions():
    cn = _make_cn(4, 2).train()
    with pytest.raises(RuntimeError, match='DomainRoutingHook'):
        cn(torch.randn(2, 4, 3, 3, dtype=torch.float64))


@pytest.mark.parametrize('domain_idx,match', [
    ([0, 2], r'indices must be in \[0, 2\)'),
    ([0, 1, 1], 'batch of 2 samples'),
    (torch.tensor([0., 1.]), 'integer bank indices'),
    ([0, 1.0], 'integer bank indices'),
    ([0, -1], 'must be in'),
    (torch.zeros(2, 1, dtype=torch.long), '1-D'),
])
def test_bad_domain_idx_is_a_clear_value_error(domain_idx, match):
    cn = _make_cn(4, 2).train()
    with pytest.raises(ValueError, match=match):
        with domain_routing(cn, domain_idx):
            cn(torch.randn(2, 4, 3, 3, dtype=torch.float64))


def test_two_models_route_independently():
    model = nn.Sequential(nn.Conv2d(3, 4, 1), _make_cn(4, 2))
    ema = copy.deepcopy(model)
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    model.double().train()
    ema.double().eval()
    with domain_routing(model, [1, 0]):
        model(x)  # routed
        out_ema = ema(x)  # not routed: eval_domain for both samples
        with pytest.raises(RuntimeError, match='without domain routing'):
            ema.train()(x)
    torch.testing.assert_close(out_ema, _plain_bank(ema.eval()[1], 0)(
        ema[0](x)), **TOL64)
    assert model[1]._route is None


def test_copy_taken_during_routing_is_not_routed():
    cn = _make_cn(4, 2).train()
    with domain_routing(cn, [0, 1]):
        clone = copy.deepcopy(cn)
    assert clone._route is None


@pytest.mark.parametrize('bad,match', [
    (dict(num_domains=0), 'num_domains'),
    (dict(eval_domain=2), 'eval_domain'),
    (dict(norm_cfg=dict(type='CN')), 'cannot wrap another CN'),
    (dict(norm_cfg='BN'), "must be a dict with a 'type'"),
    (dict(norm_cfg=dict(type='IN', track_running_stats=True)),
     'track_running_stats'),
])
def test_bad_arguments_raise(bad, match):
    cfg = dict(type='CN', num_domains=2)
    cfg.update(bad)
    with pytest.raises(ValueError, match=match):
        build_norm_layer(cfg, 4)


@pytest.mark.skipif(kernels._C is None, reason='cn_seg._C not compiled')
@pytest.mark.parametrize('domain_idx', [[0, 0, 0, 1, 1, 1, 1, 1],
                                        [1, 0, 2, 0, 1, 2, 2, 0]])
def test_cpu_kernels_equal_the_pure_pytorch_path(domain_idx, monkeypatch):
    """Float32 at a ResNet-like size: the two paths agree with each other."""
    g = torch.Generator().manual_seed(5)
    x = torch.randn(8, 32, 17, 19, generator=g) * 4 + 3
    grad_out = torch.randn(x.shape, generator=g)
    results = []
    for kernel in (kernels._C, None):
        monkeypatch.setattr(kernels, '_C', kernel)
        cn = _make_cn(32, 3, dtype=torch.float32).train()
        xk = x.clone().requires_grad_()
        with domain_routing(cn, domain_idx):
            out = cn(xk)
        out.backward(grad_out)
        results.append((out, xk.grad, cn.weight.grad, cn.bias.grad,
                        cn.running_mean, cn.running_var))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(kernels._C is None, reason='cn_seg._C not compiled')
def test_cpu_kernels_refuse_bad_input_with_a_message():
    x = torch.randn(3, 4, 2, 2)
    with pytest.raises(RuntimeError, match=r'in \[0, num_domains\)'):
        kernels._C.domain_bn_forward(x, torch.tensor([0, 2, 1]), 2, None,
                                     None, 1e-5)
    with pytest.raises(RuntimeError, match='one entry per sample'):
        kernels._C.domain_bn_forward(x, torch.tensor([0, 1]), 2, None, None,
                                     1e-5)
    with pytest.raises(RuntimeError, match='contiguous'):
        kernels._C.domain_bn_forward(x.transpose(2, 3), torch.tensor(
            [0, 1, 1]), 2, None, None, 1e-5)


def test_share_state_normalizes_per_domain_with_one_set_of_state(bn_path):
    """share_state: per-domain batch statistics, shared gamma/beta/running."""
    cn = build_norm_layer(dict(type='CN', num_domains=2, share_state=True),
                          4)[1].double().train()
    assert cn.weight.shape == (1, 4) and cn.running_mean.shape == (1, 4)
    bn = nn.BatchNorm2d(4).double().train()
    with torch.no_grad():
        cn.weight.fill_(1.5)
        bn.weight.fill_(1.5)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(5, 4, 3, 3, generator=g, dtype=torch.float64)
    x[3:] = x[3:] * 4 + 2  # the second domain has other statistics
    grad_out = torch.randn(x.shape, generator=g, dtype=torch.float64)
    xr = x.clone().requires_grad_()
    ref = torch.cat([bn(xr[:3]), bn(xr[3:])])  # domain 0, then domain 1
    ref.backward(grad_out)
    x.requires_grad_()
    with domain_routing(cn, [0, 0, 0, 1, 1]):
        out = cn(x)
    out.backward(grad_out)
    torch.testing.assert_close(out, ref, **TOL64)
    torch.testing.assert_close(x.grad, xr.grad, **TOL64)
    torch.testing.assert_close(cn.weight.grad[0], bn.weight.grad, **TOL64)
    torch.testing.assert_close(cn.running_mean[0], bn.running_mean, **TOL64)
    torch.testing.assert_close(cn.running_var[0], bn.running_var, **TOL64)
    assert int(cn.num_batches_tracked[0]) == int(bn.num_batches_tracked)
    cn.eval()
    bn.eval()
    with domain_routing(cn, [1, 0, 1, 1, 0]):
        torch.testing.assert_close(cn(x), bn(x), **TOL64)


def test_share_state_across_processes_is_refused_with_the_fix(monkeypatch):
    from cn_seg.models.norms import consistent_norm
    monkeypatch.setattr(consistent_norm, 'sync_world', lambda group: 2)
    cn = build_norm_layer(dict(type='CN', num_domains=2, share_state=True,
                               norm_cfg=dict(type='SyncBN')), 4)[1].train()
    with pytest.raises(ValueError, match="norm_cfg=dict\\(type='BN'\\)"):
        with domain_routing(cn, [0, 0, 1, 1]):
            cn(torch.randn(4, 4, 2, 2))


def test_one_value_per_channel_in_a_bank_is_refused_like_batchnorm(bn_path):
    """An ASPP image-pool input (1x1) with one sample of a domain: undefined."""
    cn = _make_cn(4, 2).train()
    with pytest.raises(ValueError, match='CN bank 1 got 1 value per channel'):
        with domain_routing(cn, [0, 0, 1]):
            cn(torch.randn(3, 4, 1, 1, dtype=torch.float64))
    with pytest.raises(ValueError):  # what plain BN does in that case
        nn.BatchNorm2d(4).train()(torch.randn(1, 4, 1, 1))
