"""ConsistentNorm against plain norm layers run on each domain's samples.

Every test that takes the ``backend`` fixture runs on each batch-norm
backend: the C++ CPU kernels, ATen's kernels per domain slice, and the
Triton kernels (run by Triton's interpreter where there is no GPU).
"""
import copy

import pytest
import torch
from mmcv.cnn import build_norm_layer
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from cn_seg import ConsistentNorm, domain_routing
from cn_seg.models import AffineConsistentNorm, BatchConsistentNorm
from cn_seg_workbench.oracles.reference import PerDomainNorm, per_domain
from .cn_helpers import (TOL64, assert_banks_equal, cn_step, make_cn,
                         reference_step)

# float32 on one layer of 5 channels x 42 positions: CN and the reference
# sum at most a few hundred values per statistic in different orders, a
# relative difference of a few float32 ulps (1e-7) of values of order 1 to 10
# (the input is 3 * randn + 1); 1e-4 / 1e-5 leaves two orders of margin on
# any CPU.
TOL32 = dict(rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    'domain_idx',
    [
        [0, 1, 1, 0, 1, 0],  # shuffled, 2 domains
        [1, 1, 1, 1, 0, 0, 1],  # unequal counts, grouped
        [2, 0, 1, 2, 2, 0, 1, 1],  # 3 domains shuffled
        [3, 1, 0, 2, 3, 3, 1, 0, 2],  # 4 domains
        [0, 0, 1, 1, 2, 2, 3, 3],  # 4 domains grouped (zero-copy path)
    ])
@pytest.mark.parametrize('dtype,tol', [(torch.float64, TOL64),
                                       (torch.float32, TOL32)])
def test_training_equals_plain_bn_per_domain(domain_idx, dtype, tol, backend):
    t = max(domain_idx) + 1
    cn = make_cn(5, t, dtype=dtype).train()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(len(domain_idx), 5, 6, 7, generator=g, dtype=dtype) * 3 + 1
    grad_out = torch.randn(x.shape, generator=g, dtype=dtype)
    ref_out, ref_gx, banks = reference_step(cn, x, domain_idx, grad_out)
    out, gx = cn_step(cn, x, domain_idx, grad_out)
    torch.testing.assert_close(out, ref_out, **tol)
    torch.testing.assert_close(gx, ref_gx, **tol)
    assert_banks_equal(cn, banks, tol)


def test_cumulative_momentum_matches_plain_bn(backend):
    """momentum=None: each bank keeps a cumulative average of its batches."""
    cn = make_cn(3, 2, inner=dict(type='BN', momentum=None)).train()
    banks = PerDomainNorm.from_cn(cn)
    g = torch.Generator().manual_seed(2)
    for step, idx in enumerate([[0, 1, 1, 1], [1, 0, 0, 1], [1, 1, 1, 1]]):
        x = torch.randn(4, 3, 5, 5, generator=g, dtype=torch.float64) + step
        with domain_routing(cn, idx):
            cn(x)
        banks(x, idx)  # a bank absent from the batch is not called
    assert_banks_equal(cn, banks.banks, TOL64, params=False)
    assert cn.num_batches_tracked.tolist() == [2, 3]


def test_absent_domain_bank_is_untouched(backend):
    cn = make_cn(4, 3).train()
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
    cn = make_cn(4, 2).eval()
    x = torch.randn(5, 4, 3, 3, dtype=torch.float64)
    idx = [1, 0, 1, 1, 0]
    with domain_routing(cn, idx):
        out = cn(x)
    banks = PerDomainNorm.from_cn(cn).banks
    for i, k in enumerate(idx):
        torch.testing.assert_close(out[i:i + 1], banks[k](x[i:i + 1]), **TOL64)
    # Without routing, every sample uses eval_domain (0 by default).
    torch.testing.assert_close(cn(x), banks[0](x), **TOL64)
    cn1 = make_cn(4, 2, eval_domain=1).eval()
    torch.testing.assert_close(
        cn1(x),
        PerDomainNorm.from_cn(cn1).banks[1](x), **TOL64)


@pytest.mark.parametrize('inner', [
    dict(type='GN', num_groups=2),
    dict(type='IN', affine=True),
    dict(type='LN'),
])
def test_sample_wise_norms_get_per_domain_affine(inner):
    cn = make_cn(4, 3, inner=inner).train()
    assert isinstance(cn, AffineConsistentNorm)
    assert getattr(cn, 'running_mean', None) is None
    assert cn.weight.shape == (3, 4)
    shape = (6, 5, 4) if inner['type'] == 'LN' else (6, 4, 5, 5)
    x = torch.randn(*shape, dtype=torch.float64)
    grad_out = torch.randn_like(x)
    for idx in ([2, 0, 1, 0, 2, 2], [1] * 6):
        cn.weight.grad = None
        ref_out, ref_gx, banks = reference_step(cn, x, idx, grad_out)
        out, gx = cn_step(cn, x, idx, grad_out)
        torch.testing.assert_close(out, ref_out, **TOL64)
        torch.testing.assert_close(gx, ref_gx, **TOL64)
        for k, bank in enumerate(banks):
            expected = bank.weight.grad if k in idx else \
                torch.zeros_like(cn.weight[k])
            torch.testing.assert_close(cn.weight.grad[k], expected, **TOL64)


def test_the_variants_are_what_torch_and_mmengine_expect():
    """Batch CN is a _BatchNorm (norm_eval, frozen_stages, weight decay);
    affine-only CN is not, so SyncBN conversions leave it alone."""
    bn = build_norm_layer(dict(type='CN', norm_cfg=dict(type='SyncBN')), 4)[1]
    gn = build_norm_layer(
        dict(type='CN', norm_cfg=dict(type='GN', num_groups=2)), 4)[1]
    assert isinstance(bn, BatchConsistentNorm) and isinstance(bn, _BatchNorm)
    assert isinstance(gn, AffineConsistentNorm)
    assert not isinstance(gn, _BatchNorm)
    assert isinstance(bn, ConsistentNorm) and isinstance(gn, ConsistentNorm)
    model = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(gn))
    assert model[0] is gn
    assert build_norm_layer(dict(type='CN'), 4)[0] == 'bn'


def test_unrouted_training_raises_with_instructions():
    cn = make_cn(4, 2).train()
    with pytest.raises(RuntimeError, match='DomainRoutingHook'):
        cn(torch.randn(2, 4, 3, 3, dtype=torch.float64))


@pytest.mark.parametrize('bad,match', [
    (dict(num_domains=0), 'num_domains'),
    (dict(eval_domain=2), 'eval_domain'),
    (dict(norm_cfg=dict(type='CN')), 'cannot wrap another CN'),
    (dict(norm_cfg=dict(type='ConsistentNorm')), 'cannot wrap another CN'),
    (dict(norm_cfg=dict(type=ConsistentNorm)), 'cannot wrap another CN'),
    (dict(norm_cfg='BN'), "must be a dict with a 'type'"),
    (dict(norm_cfg=dict(type='NoSuchNorm')), 'not a norm CN can wrap'),
    (dict(norm_cfg=dict(type='IN', track_running_stats=True)),
     'track_running_stats'),
])
def test_bad_arguments_raise(bad, match):
    cfg = dict(type='CN', num_domains=2)
    cfg.update(bad)
    with pytest.raises(ValueError, match=match):
        build_norm_layer(cfg, 4)


def test_one_value_per_channel_in_a_bank_is_refused_like_batchnorm(backend):
    """An ASPP image-pool input (1x1) with one sample of a domain: undefined."""
    cn = make_cn(4, 2).train()
    with pytest.raises(ValueError, match='CN bank 1 got 1 value per channel'):
        with domain_routing(cn, [0, 0, 1]):
            cn(torch.randn(3, 4, 1, 1, dtype=torch.float64))
    with pytest.raises(ValueError):  # what plain BN does in that case
        nn.BatchNorm2d(4).train()(torch.randn(1, 4, 1, 1))
