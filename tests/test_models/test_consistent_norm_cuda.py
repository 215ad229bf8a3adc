"""ConsistentNorm on CUDA against a float64 CPU reference (skipped without GPU)."""
import pytest
import torch

from cn_seg import domain_routing, fold_cn
from cn_seg.models.norms.backends import why_unavailable
from .cn_helpers import make_cn, reference_step

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason='needs a CUDA device')
TOL = dict(rtol=1e-4, atol=1e-4)


@pytest.fixture(params=['aten', 'triton'])
def cuda_backend(request, monkeypatch):
    """Each backend that takes CUDA tensors (``CN_SEG_BACKEND``)."""
    reason = why_unavailable(request.param, 'cuda')
    if reason is not None:
        pytest.skip(f'backend {request.param}: {reason}')
    monkeypatch.setenv('CN_SEG_BACKEND', request.param)
    return request.param


@pytest.mark.parametrize('domain_idx', [
    [0, 0, 0, 1, 1],
    [1, 0, 1, 0, 1, 1],
    [2, 0, 1, 2, 2, 0, 1, 1, 3],
])
def test_cuda_training_equals_plain_bn_per_domain(domain_idx, cuda_backend):
    t = max(domain_idx) + 1
    cn = make_cn(6, t).train()
    x = torch.randn(len(domain_idx), 6, 9, 7, dtype=torch.float64) * 2 + 1
    grad_out = torch.randn_like(x)
    ref_cn = make_cn(6, t).train()
    ref_out, ref_gx, banks = reference_step(ref_cn, x, domain_idx, grad_out)

    cuda_cn = cn.float().cuda()
    xc = x.float().cuda().requires_grad_()
    with domain_routing(cuda_cn, torch.tensor(domain_idx).cuda()):
        out = cuda_cn(xc)
    out.backward(grad_out.float().cuda())
    torch.testing.assert_close(out.double().cpu(), ref_out, **TOL)
    torch.testing.assert_close(xc.grad.double().cpu(), ref_gx, **TOL)
    for k, bank in enumerate(banks):
        torch.testing.assert_close(cuda_cn.weight.grad[k].double().cpu(),
                                   bank.weight.grad, **TOL)
        torch.testing.assert_close(cuda_cn.running_var[k].double().cpu(),
                                   bank.running_var, **TOL)


def test_cuda_autocast_half_matches_float32(cuda_backend):
    cn = make_cn(8, 2, dtype=torch.float32).cuda().train()
    ref = make_cn(8, 2, dtype=torch.float32).cuda().train()
    x = torch.randn(4, 8, 16, 16, device='cuda')
    conv = torch.nn.Conv2d(8, 8, 1).cuda()
    with domain_routing(cn,
                        [0, 0, 1, 1]), torch.autocast('cuda', torch.float16):
        out_half = cn(conv(x))
    with domain_routing(ref, [0, 0, 1, 1]):
        out_full = ref(conv(x))
    assert out_half.dtype == torch.float16
    torch.testing.assert_close(
        out_half.float(), out_full, rtol=1e-2, atol=1e-2)
    out_half.float().sum().backward()


def test_cuda_eval_mixed_and_fold():
    cn = make_cn(5, 2, dtype=torch.float32).cuda().eval()
    x = torch.randn(4, 5, 6, 6, device='cuda')
    with domain_routing(cn, [1, 0, 1, 1]):
        mixed = cn(x)
    folded = fold_cn(make_cn(5, 2, dtype=torch.float32).cuda().eval(), 1)
    assert isinstance(folded, torch.nn.BatchNorm2d)
    torch.testing.assert_close(mixed[[0, 2, 3]], folded(x[[0, 2, 3]]))
