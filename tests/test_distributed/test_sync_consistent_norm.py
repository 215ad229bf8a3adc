"""CN over SyncBN in 2 and 3 real gloo processes equals single-process CN.

Each world size is one launch of ``sync_cn_worker.py`` that runs every case of
``sync_cn_cases``; the tests here compute the references in this process, on
the concatenated global batch: single-process CN over BN, and plain
``nn.BatchNorm2d`` layers applied to each domain's samples (Algorithm 1).

What is compared, and how:
- outputs and input gradients: each rank's slice of the global result;
- parameter gradients: each rank holds its local share (as SyncBatchNorm
  does), so their sum over ranks equals the reference; under DDP, which
  averages, every rank holds reference / world_size;
- running statistics and ``num_batches_tracked`` of every bank: the same on
  every rank and equal to the reference.
Tolerances: float64 rtol 1e-9, atol 1e-10 (the ranks' partial sums are added
in another order than the reference's); float32 rtol = atol = 2e-5.
"""
from pathlib import Path

import pytest
import torch
from torch import nn

import sync_cn_cases as cases
from cn_seg import domain_routing
from dist_launch import launch

WORKER = Path(__file__).with_name('sync_cn_worker.py')
CASE_IDS = [(world, name) for world in sorted(cases.CASES)
            for name in cases.CASES[world]]


@pytest.fixture(scope='module')
def dist_results(tmp_path_factory):
    """Per world size, every rank's saved results (one launch each)."""
    runs = {}

    def get(world):
        if world not in runs:
            workdir = tmp_path_factory.mktemp(f'sync_cn_{world}_ranks')
            launch(WORKER, world, workdir, [str(workdir)], timeout=150)
            runs[world] = [torch.load(workdir / f'rank{r}.pt')
                           for r in range(world)]
        return runs[world]

    return get


def _plain_banks(cn):
    """Independent plain BN layers holding each bank's initial state."""
    banks = []
    for k in range(cn.num_domains):
        bn = nn.BatchNorm2d(cn.num_features, momentum=cn.momentum).to(
            cn.weight.dtype)
        with torch.no_grad():
            for name in ('weight', 'bias', 'running_mean', 'running_var',
                         'num_batches_tracked'):
                getattr(bn, name).copy_(getattr(cn, name)[k])
        banks.append(bn.train())
    return banks


def _plain_step(banks, x, grad_out, domain_idx):
    """Algorithm 1: each domain's samples through its own plain BN."""
    x = x.clone().requires_grad_()
    idx = torch.tensor(domain_idx)
    out = torch.zeros_like(x)
    for k, bn in enumerate(banks):
        bn.zero_grad()
        sel = (idx == k).nonzero().flatten()
        if len(sel):
            out = out.index_copy(0, sel, bn(x[sel]))
    out.backward(grad_out)
    return out, x.grad


def _cn_step(cn, x, grad_out, domain_idx):
    """Single-process CN (over BN) on the whole global batch."""
    x = x.clone().requires_grad_()
    cn.weight.grad = cn.bias.grad = None
    with domain_routing(cn, domain_idx):
        out = cn(x)
    out.backward(grad_out)
    return out, x.grad


def _stacked(banks, name):
    """A plain BN state (or gradient, for weight and bias) over banks."""
    if name in ('weight', 'bias'):  # an unused bank has no gradient
        return torch.stack([
            torch.zeros_like(bn.weight) if getattr(bn, name).grad is None
            else getattr(bn, name).grad for bn in banks])
    return torch.stack([getattr(bn, name) for bn in banks])


@pytest.mark.parametrize('world,name', CASE_IDS,
                         ids=[f'{w}ranks-{n}' for w, n in CASE_IDS])
def test_equals_single_process_on_global_batch(dist_results, world, name):
    ranks, t, dtype_name, momentum = cases.CASES[world][name]
    dtype, tol = getattr(torch, dtype_name), cases.TOLERANCES[dtype_name]
    ref_cn = cases.make_cn(t, 'BN', dtype, momentum)
    banks = _plain_banks(ref_cn)
    initial = {k: v.clone() for k, v in ref_cn.state_dict().items()}
    results = [rank['cases'][name] for rank in dist_results(world)]
    for step in range(cases.STEPS):
        x, grad_out, domain_idx, bounds = cases.global_batch(
            ranks, t, dtype, step)
        cn_out, cn_gx = _cn_step(ref_cn, x, grad_out, domain_idx)
        bn_out, bn_gx = _plain_step(banks, x, grad_out, domain_idx)
        refs = [(ref_cn.weight.grad, ref_cn.bias.grad, ref_cn.running_mean,
                 ref_cn.running_var, ref_cn.num_batches_tracked),
                tuple(_stacked(banks, n) for n in (
                    'weight', 'bias', 'running_mean', 'running_var',
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
            for name in ('running_mean', 'running_var',
                         'num_batches_tracked'):
                assert torch.equal(final[name][k], initial[name][k])
            assert not final['weight_grad'][k].any()


@pytest.mark.parametrize('world', sorted(cases.MODEL_CASES))
def test_ddp_training_step_equals_single_process(dist_results, world):
    """DDP averages the ranks' local parameter gradients: each rank holds the
    single-process gradient of the summed loss divided by world_size, and one
    SGD step leaves identical parameters on every rank."""
    results = [rank['model'] for rank in dist_results(world)]
    ranks = cases.MODEL_CASES[world]
    tol = cases.TOLERANCES['float64']
    model = cases.make_model('BN')
    x, grad_out, domain_idx, bounds = cases.global_batch(
        ranks, 2, torch.float64, 0)
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


@pytest.mark.parametrize('world', sorted(cases.CASES))
def test_one_collective_per_layer_for_any_number_of_domains(
        dist_results, world):
    """Counted by wrapping torch.distributed's collectives in each rank."""
    for rank in dist_results(world):
        for t, counts in rank['counts'].items():
            assert counts == dict(fwd=(1, 0), bwd=(1, 0)), (t, counts)
