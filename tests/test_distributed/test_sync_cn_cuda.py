"""CN over SyncBN on CUDA tensors against the float64 CPU references.

Skipped without CUDA. Two gloo processes share cuda:0 (gloo reduces CUDA
tensors; NCCL refuses two ranks on one GPU), which runs the same kernels as
an NCCL run; with two GPUs the cases also run on NCCL, one GPU per rank. A
group of one process checks the kernel's half-precision path on the GPU
(ATen's CUDA statistics kernel, float32 statistics for half inputs).
Tolerances: float64 as on the CPU; float32 rtol = atol = 1e-4 (CUDA and CPU
kernels sum in other orders); half inputs 1e-2 relative (output rounding).
"""
import pytest
import torch
import torch.distributed as dist

import sync_cn_cases as cases
import sync_cn_checks as checks

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason='needs a CUDA device')
RUNS = [('gloo', 'cuda:0'),
        pytest.param('nccl', 'cuda:rank', marks=pytest.mark.skipif(
            torch.cuda.device_count() < 2, reason='NCCL needs a GPU per rank'))]


def _tolerance(world, name):
    dtype_name = cases.CASES[world][name][2]
    return cases.TOLERANCES['float64'] if dtype_name == 'float64' else dict(
        rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('backend,device', RUNS)
def test_two_ranks_on_cuda_equal_single_process(tmp_path, backend, device):
    results = checks.run_workers(tmp_path, 2, backend, device)
    for name in cases.CASES[2]:
        checks.check_case(results, 2, name, _tolerance(2, name))
    checks.check_model(results, 2)
    checks.check_counts(results)


@pytest.fixture
def cuda_group_of_one(tmp_path):
    """A real process group (NCCL) holding only this process."""
    torch.cuda.set_device(0)
    dist.init_process_group('nccl', init_method=f"file://{tmp_path / 'pg'}",
                            rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize('dtype,tol', [
    (torch.float32, dict(rtol=1e-4, atol=1e-4)),
    (torch.float16, dict(rtol=1e-2, atol=4e-3)),
    (torch.bfloat16, dict(rtol=1e-2, atol=4e-3)),
])
def test_cuda_kernel_half_precision(cuda_group_of_one, dtype, tol):
    domains = [1, 0, 2, 2, 0, 1, 1]
    x, grad_out, _, _ = cases.global_batch([domains], 3, torch.float64, 0)
    x = x * 4 + 30  # a large mean: statistics kept in half would show
    g = torch.Generator().manual_seed(5)
    weight = (1 + torch.rand(3, cases.CHANNELS, generator=g)).cuda()
    bias = torch.randn(3, cases.CHANNELS, generator=g).cuda()
    x, grad_out = x.to(dtype).cuda(), grad_out.to(dtype).cuda()
    checks.assert_lists_close(
        checks.sync_kernel(x, grad_out, domains, weight.requires_grad_(),
                           bias.requires_grad_(), 0.3),
        checks.per_domain_bn(x, grad_out, domains, weight, bias, 0.3), **tol)
