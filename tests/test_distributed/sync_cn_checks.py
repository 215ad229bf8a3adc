"""References and comparisons for the distributed CN tests (CPU and CUDA).

The references run in the test process, on the CPU, on the concatenated
global batch of a case: single-process CN over BN, and plain
``nn.BatchNorm2d`` layers applied to each domain's samples (Algorithm 1).

What is compared, and how:
- outputs and input gradients: each rank's slice of the global result;
- parameter gradients: each rank holds its local share (as SyncBatchNorm
  does), so their sum over ranks equals the reference; under DDP, which
  averages, every rank holds reference / world_size;
- running statistics and ``num_batches_tracked`` of every bank: the same on
  every rank and equal to the reference;
- collectives: one ``all_reduce`` per CN layer forward and one backward.
Default tolerances are ``sync_cn_cases.TOLERANCES``.
"""
from contextlib import contextmanager
from pathlib import Path
from typing import Sequence

import sync_cn_cases as cases
import torch
import torch.distributed as dist
from dist_launch import launch
from torch import nn

from cn_seg import domain_routing
from cn_seg.models.norms.backends import (BACKENDS, BankState,
                                          domain_batch_norm, why_unavailable)
from cn_seg.models.routing import DomainRoute
from cn_seg_workbench.oracles.reference import PerDomainNorm
from tests.test_models.cn_helpers import cn_step, plain_step

WORKER = Path(__file__).with_name('sync_cn_worker.py')


def run_workers(
    workdir: Path,
    world: int,
    backend: str = 'gloo',
    device: str = 'cpu',
    cn_backends: Sequence[str] = ('auto', )) -> dict:
    """Launch ``sync_cn_worker.py`` as ``world`` ranks; their results.

    CPU ranks see no GPU, as on a machine without one. Ranks sharing cuda:0
    all get LOCAL_RANK 0, since mmengine's logger reads LOCAL_RANK as the
    index of the rank's GPU. The ranks run everything once per
    ``CN_SEG_BACKEND`` value of ``cn_backends`` (``triton`` on CPU tensors
    needs ``TRITON_INTERPRET=1``, which the ranks inherit from the tests'
    environment).

    Returns:
        dict: For each of ``cn_backends``, the list of every rank's results.
    """
    extra_env = {
        'cpu': {
            'CUDA_VISIBLE_DEVICES': ''
        },
        'cuda:0': {
            'LOCAL_RANK': '0'
        }
    }.get(device, {})
    launch(
        WORKER,
        world,
        workdir, [str(workdir), backend, device, ','.join(cn_backends)],
        timeout=150,
        extra_env=extra_env)
    ranks = [
        torch.load(workdir / f'rank{r}.pt', map_location='cpu')
        for r in range(world)
    ]
    return {name: [rank[name] for rank in ranks] for name in cn_backends}


def unavailable_backends(dtype: torch.dtype = torch.float64) -> dict:
    """For each CN backend, why it cannot run CPU tensors of ``dtype`` here
    (no triton, cn_seg._C not built, a dtype it lacks), or None."""
    return {name: why_unavailable(name, dtype=dtype) for name in BACKENDS}


@contextmanager
def group_of_one(store: Path, backend: str = 'gloo'):
    """A real process group holding only this process, destroyed on exit."""
    dist.init_process_group(
        backend, init_method=f'file://{store}', rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def _stacked(banks, name):
    """A plain BN state (or gradient, for weight and bias) over banks."""
    if name in ('weight', 'bias'):  # an unused bank has no gradient
        return torch.stack([
            torch.zeros_like(bn.weight)
            if getattr(bn, name).grad is None else getattr(bn, name).grad
            for bn in banks
        ])
    return torch.stack([getattr(bn, name) for bn in banks])


def check_case(results, world, name, tol=None):
    """Every rank's steps of one case against both references."""
    ranks, t, dtype_name, momentum = cases.CASES[world][name]
    dtype = getattr(torch, dtype_name)
    tol = tol or cases.TOLERANCES[dtype_name]
    ref_cn = cases.make_cn(t, 'BN', dtype, momentum)
    banks = PerDomainNorm.from_cn(ref_cn)
    initial = {k: v.clone() for k, v in ref_cn.state_dict().items()}
    results = [rank['cases'][name] for rank in results]
    for step in range(cases.STEPS):
        x, grad_out, domain_idx, bounds = cases.global_batch(
            ranks, t, dtype, step)
        # Single-process CN (over BN) and plain BN per domain, this step's
        # gradients only.
        ref_cn.weight.grad = ref_cn.bias.grad = None
        banks.zero_grad()
        cn_out, cn_gx = cn_step(ref_cn, x, domain_idx, grad_out)
        bn_out, bn_gx = plain_step(banks, x, domain_idx, grad_out)
        refs = [(ref_cn.weight.grad, ref_cn.bias.grad, ref_cn.running_mean,
                 ref_cn.running_var, ref_cn.num_batches_tracked),
                tuple(
                    _stacked(banks.banks, n)
                    for n in ('weight', 'bias', 'running_mean', 'running_var',
                              'num_batches_tracked'))]
        got = [r[step] for r in results]
        for out, gx in ((cn_out, cn_gx), (bn_out, bn_gx)):
            for r, res in enumerate(got):
                lo, hi = bounds[r], bounds[r + 1]
                torch.testing.assert_close(res['out'], out[lo:hi], **tol)
                torch.testing.assert_close(res['x_grad'], gx[lo:hi], **tol)
        weight_grad = sum(res['weight_grad'] for res in got)
        bias_grad = sum(res['bias_grad'] for res in got)
        for gw, gb, rm, rv, nbt in refs:
            torch.testing.assert_close(weight_grad, gw, **tol)
            torch.testing.assert_close(bias_grad, gb, **tol)
            for res in got:
                torch.testing.assert_close(res['running_mean'], rm, **tol)
                torch.testing.assert_close(res['running_var'], rv, **tol)
                assert torch.equal(res['num_batches_tracked'], nbt)
        for res in got:  # one collective each way, whatever the rank holds
            assert res['fwd'] == (1, 0) and res['bwd'] == (1, 0), res
    seen = {k for rank in ranks for k in rank}
    for k in set(range(t)) - seen:  # absent on every rank: bank untouched
        for res in results:
            final = res[-1]
            for key in ('running_mean', 'running_var', 'num_batches_tracked'):
                assert torch.equal(final[key][k], initial[key][k])
            assert not final['weight_grad'][k].any()


def check_model(results, world, tol=None):
    """The DDP step of every rank against single-process training."""
    tol = tol or cases.TOLERANCES['float64']
    results = [rank['model'] for rank in results]
    model = cases.make_model('BN')
    x, grad_out, domain_idx, bounds = cases.global_batch(
        cases.MODEL_CASES[world], 2, torch.float64, 0)
    with domain_routing(model, domain_idx):
        out = model(x)
    (out * grad_out).sum().backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= cases.MODEL_LR * p.grad / world
    for r, res in enumerate(results):
        torch.testing.assert_close(res['out'], out[bounds[r]:bounds[r + 1]],
                                   **tol)
        for n, p in model.named_parameters():
            torch.testing.assert_close(res['grads'][n], p.grad / world, **tol)
        for n, value in model.state_dict().items():
            torch.testing.assert_close(res['state'][n], value, **tol)
            assert torch.equal(res['state'][n], results[0]['state'][n]), n
        assert res['fwd'] == (2, 0) and res['bwd'] == (2, 0), res


def check_backend(results, name):
    """Every rank ran its CN layers on backend ``name`` and on no other."""
    for rank in results:
        calls = rank['backend_calls']
        assert set(calls) == {name} and calls[name] > 0, calls


def check_counts(results):
    """One all_reduce forward and one backward per layer, 1 to 4 domains."""
    for rank in results:
        for t, counts in rank['counts'].items():
            assert counts == dict(fwd=(1, 0), bwd=(1, 0)), (t, counts)


def per_domain_bn(x, grad_out, domain_idx, weight, bias, momentum, t=3):
    """Plain BN layers on each domain's samples, in float64 on the CPU.

    Returns:
        list: output, input gradient, weight and bias gradients (None
        without affine parameters), running means and variances ``(t, C)``.
    """
    x = x.detach().cpu().double().requires_grad_()
    affine = weight is not None
    banks = PerDomainNorm([
        nn.BatchNorm2d(x.shape[1], momentum=momentum, affine=affine).double()
        for _ in range(t)
    ])
    if affine:
        with torch.no_grad():
            for k, bn in enumerate(banks.banks):
                bn.weight.copy_(weight[k])
                bn.bias.copy_(bias[k])
    out = banks(x, domain_idx)
    out.backward(grad_out.cpu().double())
    grads = [None] * 2 if not affine else [
        _stacked(banks.banks, name) for name in ('weight', 'bias')
    ]
    return [
        out, x.grad, *grads,
        *(_stacked(banks.banks, n) for n in ('running_mean', 'running_var'))
    ]


def sync_kernel(x, grad_out, domain_idx, weight, bias, momentum, t=3):
    """The synchronized per-domain batch norm called directly on a shuffled
    batch (the backend ``CN_SEG_BACKEND`` or the automatic choice gives).

    Returns the same list as :func:`per_domain_bn`, on ``x``'s device.
    """
    x = x.detach().clone().requires_grad_()
    c = x.shape[1]
    running = [
        torch.zeros(t, c, device=x.device),
        torch.ones(t, c, device=x.device)
    ]
    nbt = torch.zeros(t, dtype=torch.long, device=x.device)
    state = BankState(weight, bias, *running, nbt, momentum, 1e-5, t, True)
    out = domain_batch_norm(
        x, DomainRoute(domain_idx), state, synchronized=True)
    out.backward(grad_out)
    assert nbt.tolist() == [int(k in domain_idx) for k in range(t)]
    grads = [None if p is None else p.grad for p in (weight, bias)]
    return [out, x.grad, *grads, *running]


def assert_lists_close(got, expected, **tol):
    """Compare in float64 on the CPU; ``None`` entries must match."""
    for a, b in zip(got, expected):
        assert (a is None) == (b is None)
        if b is not None:
            torch.testing.assert_close(a.detach().cpu().double(), b, **tol)
