"""Inputs at the edges: half precision, empty batches, empty feature maps.

A CN layer must do what ``nn.BatchNorm2d`` does with them, on every backend.
"""
import pytest
import torch
from mmcv.cnn import build_norm_layer
from torch import nn

from cn_seg import domain_routing
from cn_seg_workbench.oracles.reference import PerDomainNorm

DOMAINS = [0, 1, 1, 0, 1, 0]
# Half precision against a float32 reference on the same (rounded) input:
# statistics and sums are float32 in both, so the difference is the
# rounding of each half result: one unit roundoff relative (float16 2^-11,
# bfloat16 2^-8) of values of order 1 to 10; two units leave margin.
HALF_TOL = {
    torch.float16: dict(rtol=2 * 2**-11, atol=2 * 2**-11 * 4),
    torch.bfloat16: dict(rtol=2 * 2**-8, atol=2 * 2**-8 * 4)
}


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_a_half_precision_layer_trains_like_batchnorm(dtype, backend):
    """``cn.half()`` / ``cn.to(torch.bfloat16)`` as BatchNorm2d does."""
    if backend == 'cpu':
        pytest.skip('the C++ kernels take float32 and float64 only')
    cn = build_norm_layer(dict(type='CN', num_domains=2), 4)[1].train()
    with torch.no_grad():
        cn.weight.uniform_(0.5, 1.5)
        cn.bias.uniform_(-1, 1)
    ref = PerDomainNorm.from_cn(cn)  # float32
    cn = cn.to(dtype)
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(6, 4, 5, 5, generator=g) * 3 + 1).to(dtype)
    grad_out = torch.randn(x.shape, generator=g).to(dtype)
    xr = x.float().requires_grad_()
    expected = ref(xr, DOMAINS)
    expected.backward(grad_out.float())
    xc = x.clone().requires_grad_()
    with domain_routing(cn, DOMAINS):
        out = cn(xc)
    out.backward(grad_out)
    tol = HALF_TOL[dtype]
    assert out.dtype == dtype and xc.grad.dtype == dtype
    torch.testing.assert_close(out.float(), expected, **tol)
    torch.testing.assert_close(xc.grad.float(), xr.grad, **tol)
    for k, bank in enumerate(ref.banks):
        assert cn.weight.grad.dtype == dtype
        # Sums of 75 products: the reference's float32 rounding of the sum
        # is below the half rounding of the result.
        torch.testing.assert_close(cn.weight.grad[k].float(), bank.weight.grad,
                                   **tol)
        torch.testing.assert_close(cn.running_var[k].float(), bank.running_var,
                                   **tol)
        torch.testing.assert_close(cn.running_mean[k].float(),
                                   bank.running_mean, **tol)


@pytest.mark.parametrize('training', [True, False])
@pytest.mark.parametrize('domain_idx', [[], [0, 1]])
def test_an_empty_input_gives_an_empty_output(training, domain_idx, backend):
    """An empty batch, or an empty feature map: an empty output, as
    BatchNorm2d gives, and running statistics left alone."""
    cn = build_norm_layer(dict(type='CN', num_domains=2), 4)[1]
    bn = nn.BatchNorm2d(4)
    cn.train(training)
    bn.train(training)
    shape = (0, 4, 3, 3) if not domain_idx else (2, 4, 0, 5)
    x = torch.randn(shape)
    with domain_routing(cn, domain_idx):
        out = cn(x)
    assert out.shape == bn(x).shape == shape
    assert torch.equal(cn.running_var, torch.ones(2, 4))
    assert torch.equal(bn.running_var, torch.ones(4))
    assert torch.equal(cn.running_mean, torch.zeros(2, 4))
    # A bank with samples counts the batch, as BatchNorm2d counts it; an
    # empty batch has no domain, so no bank counts it.
    expected = [int(training and k in domain_idx) for k in range(2)]
    assert cn.num_batches_tracked.tolist() == expected
    if not training and domain_idx:
        with domain_routing(cn, [1, 0]):  # mixed banks in eval mode
            assert cn(x).shape == shape
