"""CN over SyncBN in one process: plain per-domain BN, no process-group error.

Outside a process group (or after mmengine's Runner reverts SyncBN in a
non-distributed run) CN over SyncBN must behave exactly as CN over BN, without
the "Default process group is not initialized" error of mmseg's SyncBN. In a
group of one process, the synchronized kernel itself (called directly, on
every CN backend) must equal plain BN run on each domain's samples.
"""
import pytest
import sync_cn_cases as cases
import sync_cn_checks as checks
import torch
import torch.distributed as dist
from mmengine.model import revert_sync_batchnorm
from torch import nn

from cn_seg import domain_routing
from cn_seg.models.norms.backends import sync_world

TOL64 = cases.TOLERANCES['float64']
DOMAINS = [1, 0, 2, 2, 0, 1, 1]


def _train_step(module, cn, x, grad_out, domain_idx):
    x = x.clone().requires_grad_()
    with domain_routing(module, domain_idx):
        out = module(x)
    out.backward(grad_out)
    return [
        out, x.grad, cn.weight.grad, cn.bias.grad, cn.running_mean,
        cn.running_var, cn.num_batches_tracked
    ]


def _assert_all_close(got, expected, **tol):
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, **tol)


@pytest.mark.parametrize('momentum', [0.1, None])
def test_outside_a_process_group_equals_cn_over_bn(momentum):
    assert not dist.is_initialized() and sync_world() == 1
    x, grad_out, _, _ = cases.global_batch([DOMAINS], 3, torch.float64, 0)
    sync = cases.make_cn(3, 'SyncBN', torch.float64, momentum)
    plain = cases.make_cn(3, 'BN', torch.float64, momentum)
    for step in range(cases.STEPS):
        sync.weight.grad = sync.bias.grad = None
        plain.weight.grad = plain.bias.grad = None
        _assert_all_close(
            _train_step(sync, sync, x + step, grad_out, DOMAINS),
            _train_step(plain, plain, x + step, grad_out, DOMAINS), **TOL64)


def test_runner_revert_keeps_banks_and_trains():
    """mmengine's non-distributed Runner calls revert_sync_batchnorm."""
    model = nn.Sequential(
        nn.Conv2d(3, 3, 1), cases.make_cn(3, 'SyncBN',
                                          torch.float64)).double()
    reference = nn.Sequential(
        nn.Conv2d(3, 3, 1), cases.make_cn(3, 'BN', torch.float64)).double()
    reference.load_state_dict(model.state_dict())
    model = revert_sync_batchnorm(model)
    assert model[1].running_mean.shape == (3, cases.CHANNELS)
    x, grad_out, _, _ = cases.global_batch([DOMAINS], 3, torch.float64, 1)
    _assert_all_close(
        _train_step(model, model[1], x, grad_out, DOMAINS),
        _train_step(reference, reference[1], x, grad_out, DOMAINS), **TOL64)


@pytest.fixture
def group_of_one(tmp_path):
    """A real gloo process group holding only this process."""
    with checks.group_of_one(tmp_path / 'pg'):
        yield


@pytest.mark.parametrize(
    'dtype,affine,tol',
    [
        (torch.float32, True, dict(rtol=1e-5, atol=1e-5)),
        (torch.float32, False, dict(rtol=1e-5, atol=1e-5)),
        # half inputs: statistics in float32, like ATen's batch norm
        (torch.bfloat16, True, dict(rtol=1e-2, atol=4e-3)),
    ])
def test_sync_kernel_in_a_group_of_one_equals_plain_bn(group_of_one, backend,
                                                       dtype, affine, tol):
    if checks.unavailable_backends(dtype)[backend] is not None:
        pytest.skip(f'backend {backend} takes no {dtype} input')
    x, grad_out, _, _ = cases.global_batch([DOMAINS], 3, torch.float64, 0)
    x = x * 4 + 30  # a large mean: the variance must not cancel out
    g = torch.Generator().manual_seed(5)
    weight = bias = None
    if affine:
        weight = (1 +
                  torch.rand(3, cases.CHANNELS, generator=g)).requires_grad_()
        bias = torch.randn(3, cases.CHANNELS, generator=g).requires_grad_()
    x, grad_out = x.to(dtype), grad_out.to(dtype)
    checks.assert_lists_close(
        checks.sync_kernel(x, grad_out, DOMAINS, weight, bias, 0.3),
        checks.per_domain_bn(x, grad_out, DOMAINS, weight, bias, 0.3), **tol)
