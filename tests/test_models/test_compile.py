"""torch.compile of a routed DeepLabV3 training step with CN layers.

CN's kernels are torch custom ops with fake implementations, so dynamo
traces CN layers without a graph break, and the compiled step computes what
the eager one does (float64: the compiled graph may reorder sums, 1e-12
bounds that rounding).
"""
import copy
import os.path as osp

import torch

import cn_seg
from cn_seg import enable_domain_routing
from .cn_helpers import data_samples, tiny_deeplabv3

PACKAGE = osp.dirname(cn_seg.__file__)
TOL = dict(rtol=1e-12, atol=1e-12)
DOMAINS = [0, 0, 1, 1]


def _step(model, x, samples):
    losses = model(x, samples, mode='loss')
    return sum(v for k, v in losses.items() if 'loss' in k)


def _inputs():
    torch.manual_seed(1)
    return torch.randn(
        4, 3, 32, 32, dtype=torch.float64), data_samples(DOMAINS, (32, 32))


def test_dynamo_traces_cn_layers_without_a_graph_break():
    torch.manual_seed(0)
    model = enable_domain_routing(tiny_deeplabv3(True).double()).train()
    explained = torch._dynamo.explain(_step)(model, *_inputs())
    assert explained.graph_count >= 1
    in_cn = [
        b for b in explained.break_reasons if any(
            frame.filename.startswith(PACKAGE) for frame in b.user_stack)
    ]
    # The step does break in mmseg's accuracy (a data-dependent nonzero),
    # never in cn_seg's code.
    assert not in_cn, [b.reason for b in in_cn]


def test_compiled_step_equals_eager():
    torch.manual_seed(0)
    model = enable_domain_routing(tiny_deeplabv3(True).double()).train()
    eager = copy.deepcopy(model)
    torch._dynamo.reset()
    compiled = torch.compile(_step, backend='aot_eager')
    loss = compiled(model, *_inputs())
    loss.backward()
    expected = _step(eager, *_inputs())
    expected.backward()
    torch.testing.assert_close(loss, expected, **TOL)
    for (name, p), q in zip(model.named_parameters(), eager.parameters()):
        torch.testing.assert_close(p.grad, q.grad, **TOL, msg=name)
    for (name, b), c in zip(model.named_buffers(), eager.buffers()):
        torch.testing.assert_close(b, c, **TOL, msg=name)
