"""CN over SyncBN on CUDA tensors against the float64 CPU references.

Skipped without CUDA. Two gloo processes share cuda:0 (gloo reduces CUDA
tensors; NCCL refuses two ranks on one GPU), which runs the same kernels as
an NCCL run; with two GPUs the cases also run on NCCL, one GPU per rank. A
group of one process checks the kernel's half-precision path on the GPU
(ATen's CUDA statistics kernel, float32 statistics for half inputs).
Tolerances: float64 as on the CPU; float32 rtol = atol = 1e-4 (CUDA and CPU
kernels sum in other orders); half inputs rtol 1e-2 (output rounding), and
a looser atol for the parameter gradients (see the test).
"""
import pytest
import sync_cn_cases as cases
import sync_cn_checks as checks
import torch

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason='needs a CUDA device')
RUNS = [('gloo', 'cuda:0'),
        pytest.param(
            'nccl',
            'cuda:rank',
            marks=pytest.mark.skipif(
                torch.cuda.device_count() < 2,
                reason='NCCL needs a GPU per rank'))]


def _tolerance(world, name):
    dtype_name = cases.CASES[world][name][2]
    return cases.TOLERANCES['float64'] if dtype_name == 'float64' else dict(
        rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('backend,device', RUNS)
def test_two_ranks_on_cuda_equal_single_process(tmp_path, backend, device):
    results = checks.run_workers(tmp_path, 2, backend, device)['auto']
    for name in cases.CASES[2]:
        checks.check_case(results, 2, name, _tolerance(2, name))
    checks.check_model(results, 2)
    checks.check_counts(results)


@pytest.fixture
def cuda_group_of_one(tmp_path):
    """A real process group (NCCL) holding only this process."""
    torch.cuda.set_device(0)
    with checks.group_of_one(tmp_path / 'pg', 'nccl'):
        yield


@pytest.mark.parametrize(
    'dtype,tol,grad_tol',
    [
        (torch.float32, dict(rtol=1e-4, atol=1e-4), dict(rtol=1e-4,
                                                         atol=1e-4)),
        # ATen's CUDA backward sums dy * x_hat of half inputs to about the
        # input's precision (1.6e-3 of the largest bf16 gradient here), local CN
        # alike; everything else is float32-exact up to the output's rounding.
        (torch.float16, dict(rtol=1e-2, atol=4e-3), dict(rtol=1e-2, atol=6e-2)
         ),
        (torch.bfloat16, dict(rtol=1e-2, atol=4e-3), dict(
            rtol=1e-2, atol=6e-2)),
    ])
def test_cuda_kernel_half_precision(cuda_group_of_one, dtype, tol, grad_tol):
    domains = [1, 0, 2, 2, 0, 1, 1]
    x, grad_out, _, _ = cases.global_batch([domains], 3, torch.float64, 0)
    x = x * 4 + 30  # a large mean: statistics kept in half would show
    g = torch.Generator().manual_seed(5)
    weight = (1 + torch.rand(3, cases.CHANNELS, generator=g)).cuda()
    bias = torch.randn(3, cases.CHANNELS, generator=g).cuda()
    x, grad_out = x.to(dtype).cuda(), grad_out.to(dtype).cuda()
    got = checks.sync_kernel(x, grad_out, domains, weight.requires_grad_(),
                             bias.requires_grad_(), 0.3)
    expected = checks.per_domain_bn(x, grad_out, domains, weight, bias, 0.3)
    # [out, x.grad, weight.grad, bias.grad, running_mean, running_var]
    checks.assert_lists_close(got[:2] + got[4:], expected[:2] + expected[4:],
                              **tol)
    checks.assert_lists_close(got[2:4], expected[2:4], **grad_tol)
