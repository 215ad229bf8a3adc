"""What one CN layer dispatches per training step, counted op by op.

The Triton backend (CUDA's) launches a fixed number of kernels whatever the
number of domains and their order; plain ``nn.BatchNorm2d`` is the floor.
Counts are exact and machine-independent (not timings).
"""
import pytest
import torch
from mmcv.cnn import build_norm_layer
from torch import nn

from cn_seg import domain_routing
from cn_seg_workbench.oracles.launches import LaunchCounter

BATCHES = {
    '2 domains grouped': [0, 0, 0, 0, 1, 1, 1, 1],
    '4 domains grouped': [0, 0, 1, 1, 2, 2, 3, 3],
    '2 domains interleaved': [0, 1, 0, 1, 0, 1, 0, 1],
    '4 domains interleaved': [0, 1, 2, 3, 0, 1, 2, 3],
}


def count_step(layer, domain_idx=None):
    """Dispatches of one forward + backward, as in a training step after
    ``zero_grad()`` (the batch's route already on the device)."""
    x = torch.randn(8, 16, 6, 6, requires_grad=True)
    grad_out = torch.randn_like(x)

    def step():
        layer.zero_grad(set_to_none=True)
        x.grad = None
        layer(x).backward(grad_out)

    with domain_routing(layer, domain_idx or [0] * x.shape[0]):
        step()  # warm-up: compiles kernels, fills caches
        with LaunchCounter() as counter:
            step()
    return counter


def test_plain_batchnorm_is_four_dispatches():
    counter = count_step(nn.BatchNorm2d(16).train())
    assert counter.total == 4, counter.ops


@pytest.mark.parametrize('batch', list(BATCHES))
@pytest.mark.parametrize('momentum', [0.1, None])
def test_triton_backend_launches_at_most_ten(batch, momentum, monkeypatch):
    from cn_seg.models.norms.backends import why_unavailable
    reason = why_unavailable('triton')
    if reason:
        pytest.skip(reason)
    monkeypatch.setenv('CN_SEG_BACKEND', 'triton')
    domain_idx = BATCHES[batch]
    cn = build_norm_layer(
        dict(
            type='CN',
            num_domains=max(domain_idx) + 1,
            norm_cfg=dict(type='BN', momentum=momentum)), 16)[1].train()
    counter = count_step(cn, domain_idx)
    # Six kernels (two reduction stages and one elementwise kernel each
    # way) and four allocations; no host round trip either.
    assert counter.total <= 10, (counter.ops, counter.kernels)
    assert sum(counter.kernels.values()) == 6, counter.kernels
    assert 'aten.item' not in counter.ops and \
        'aten._local_scalar_dense' not in counter.ops
