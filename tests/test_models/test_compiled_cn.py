"""CN under torch.compile: ATen ops inductor fuses, equal to eager.

Compiled, a CN layer is ``compiled_domain_batch_norm`` (a fixed number of
ATen ops whatever the number of domains); eager runs the C++ / Triton
kernels. float64: the compiled graph sums in another order and merges
moments shifted by the first sample's means; 1e-10 bounds that rounding for
these sizes.
"""
import copy
import re

import pytest
import torch
import torch._inductor.metrics as metrics
from mmcv.cnn import build_norm_layer
from torch import nn
from torch._inductor.utils import run_and_get_code

from cn_seg import domain_routing

TOL = dict(rtol=1e-10, atol=1e-10)
#: Grouped, interleaved, reversed, unequal, and (4 domains) absent banks.
ORDERS = {
    2: [[0, 0, 1, 1], [1, 0, 0, 1], [1, 1, 1, 0]],
    4: [[3, 2, 1, 0], [2, 2, 0, 1], [1, 3, 3, 1]],
}


def _block(norm_cfg, t=None):
    """conv -> norm -> ReLU, float64, with distinct banks."""
    torch.manual_seed(0)
    norm = build_norm_layer(norm_cfg, 6)[1]
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-1, 1)
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), norm,
                         nn.ReLU()).double()


def _step(block, x, domain_idx, grad):
    x = x.detach().clone().requires_grad_()
    with domain_routing(block, domain_idx):
        out = block(x)
    out.backward(grad)
    return out, x.grad


@pytest.mark.parametrize('t', [2, 4])
def test_compiled_equals_eager_in_every_order(t):
    eager = _block(dict(type='CN', num_domains=t)).train()
    compiled = copy.deepcopy(eager)
    torch._dynamo.reset()
    forward = torch.compile(compiled, dynamic=False)
    g = torch.Generator().manual_seed(1)
    for domain_idx in ORDERS[t]:
        for training in (True, False):
            eager.train(training)
            compiled.train(training)
            x = torch.randn(4, 3, 5, 5, generator=g, dtype=torch.float64)
            x[1] = x[1] * 3 + 2
            grad = torch.randn(4, 6, 5, 5, generator=g, dtype=torch.float64)
            out, gx = _step(eager, x, domain_idx, grad)
            x_c = x.clone().requires_grad_()
            with domain_routing(compiled, domain_idx):
                out_c = forward(x_c)
            out_c.backward(grad)
            torch.testing.assert_close(out_c, out, **TOL)
            torch.testing.assert_close(x_c.grad, gx, **TOL)
            for (name, p), q in zip(compiled.named_parameters(),
                                    eager.parameters()):
                torch.testing.assert_close(p.grad, q.grad, **TOL, msg=name)
                p.grad = q.grad = None
            for (name, b), c in zip(compiled.named_buffers(), eager.buffers()):
                torch.testing.assert_close(b, c, **TOL, msg=name)


def _kernels(block, domain_idx):
    """``(kernels called, loop nests)`` of the block's compiled forward and
    backward: the kernels inductor generates and the code calls (C++ on the
    CPU, Triton on a GPU), and inductor's ``generated_kernel_count`` (on the
    CPU it counts each loop nest inside a kernel)."""
    torch._dynamo.reset()
    metrics.reset()
    forward = torch.compile(block.float().train(), dynamic=False)
    x = torch.randn(len(domain_idx), 3, 8, 8, requires_grad=True)

    def step():
        with domain_routing(block, domain_idx):
            forward(x).sum().backward()

    _, codes = run_and_get_code(step)
    calls = sum(
        len(re.findall(r'^\s+(cpp_fused_\w+|triton_\w+)\(', code, re.M))
        for code in codes)
    return calls, metrics.generated_kernel_count


@pytest.mark.parametrize('domain_idx', [[1, 0, 0, 1], [3, 2, 1, 0, 0, 1]])
def test_compiled_cn_block_generates_at_most_two_more_kernels_than_bn(
        domain_idx):
    bn, _ = _kernels(_block(dict(type='BN')), domain_idx)
    cn, _ = _kernels(
        _block(dict(type='CN', num_domains=max(domain_idx) + 1)), domain_idx)
    assert bn > 0 and cn <= bn + 2, (cn, bn)
