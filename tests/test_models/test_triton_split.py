"""The Triton reductions split into chunks, against a float64 reference.

Run by Triton's interpreter where there is no GPU. Small tiles force
several chunk counts, with uneven last chunks; every result must also be
bit-for-bit the same when run again (no atomics in the split).
"""
import pytest
import torch

from cn_seg.models.norms.backends import why_unavailable
from cn_seg.models.norms.backends.triton_plan import PlanLimits, plan, sm_count


@pytest.fixture(params=['cpu', 'cuda'])
def device(request):
    """The CPU under Triton's interpreter, or a GPU."""
    if request.param == 'cuda' and not torch.cuda.is_available():
        pytest.skip('no CUDA device')
    reason = why_unavailable('triton', request.param, torch.float64)
    if reason is not None:
        pytest.skip(f'triton on {request.param}: {reason}')
    return torch.device(request.param)


#: float64 sums of at most a few hundred values in another order.
TOL64 = dict(rtol=1e-11, atol=1e-11)
#: (tile, values, programs_per_sm) giving, for 7 samples of 5x7 positions:
#: one chunk; chunks of 2, 2, 2 and 1 samples; chunks of 20 and 15 positions
#: (contiguous) or 6 x 5 and 5 (channels_last); one sample per chunk.
LIMITS = [(1024, 65536, 1), (1024, 64, 4), (4, 24, 64), (8, 40, 16)]


def _reference(x, dom, t):
    """Per-domain mean and biased variance, one domain at a time."""
    c = x.shape[1]
    mean = torch.zeros(t, c, dtype=torch.float64)
    var = torch.zeros(t, c, dtype=torch.float64)
    for k in range(t):
        xs = x[dom == k].transpose(0, 1).reshape(c, -1)
        if xs.shape[1]:
            var[k], mean[k] = torch.var_mean(xs, dim=1, correction=0)
    return mean, var


def _inputs(layout, n=7, c=3, h=5, w=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=g, dtype=torch.float64) * 3 + 100
    dom = torch.tensor([2, 0, 1, 2, 0, 0, 2][:n])
    dy = torch.randn(x.shape, generator=g, dtype=torch.float64)
    if layout == 'channels_last':
        x = x.to(memory_format=torch.channels_last)
        dy = dy.to(memory_format=torch.channels_last)
    return x, dom, dy


@pytest.mark.parametrize('layout', ['contiguous', 'channels_last'])
@pytest.mark.parametrize('limits', LIMITS)
def test_split_statistics_and_gradient_sums(layout, limits, device):
    from cn_seg.models.norms.backends import triton_ops as ops
    x, dom, dy = _inputs(layout)
    on = [t.to(device) for t in (x, dom, dy)]
    t, c = 3, x.shape[1]
    p = plan(7, c, 35, layout, sm_count(device), t, PlanLimits(*limits))
    assert p.chunks > 1 or limits[1] == 65536
    mean_ref, var_ref = _reference(x, dom, t)

    def run():
        stats = ops.triton_bn_stats(on[0], on[1], t, None, None, None, 0.0,
                                    False, 1e-5, False, list(limits))
        mean = stats[:t * c].view(t, c)
        invstd = stats[2 * t * c:3 * t * c].view(t, c)
        buf = ops.triton_bn_grad_sums(on[2], on[0], on[1], mean, invstd, None,
                                      list(limits))
        return stats[:3 * t * c + 2 * t].cpu(), buf[:t * 2 * c * 8].view(
            torch.float64).view(t, 2 * c).cpu()

    stats, sums = run()
    mean, var = stats[:t * c].view(t, c), stats[t * c:2 * t * c].view(t, c)
    torch.testing.assert_close(mean, mean_ref, **TOL64)
    torch.testing.assert_close(var, var_ref, rtol=1e-9, atol=1e-9)
    counts = torch.bincount(dom, minlength=t).double()
    torch.testing.assert_close(stats[3 * t * c:3 * t * c + t], counts * 35)
    torch.testing.assert_close(stats[3 * t * c + t:], counts)
    invstd = torch.rsqrt(var + 1e-5)
    for k in range(t):
        sel = dom == k
        g = dy[sel].transpose(0, 1).reshape(c, -1)
        xh = ((x[sel] - mean[k].view(1, c, 1, 1)) *
              invstd[k].view(1, c, 1, 1)).transpose(0, 1).reshape(c, -1)
        torch.testing.assert_close(sums[k, :c], g.sum(1), **TOL64)
        torch.testing.assert_close(sums[k, c:], (g * xh).sum(1), **TOL64)
    again = run()
    assert torch.equal(again[0], stats) and torch.equal(again[1], sums)
