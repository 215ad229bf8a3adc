"""calibrate_bank: a bank's statistics from unlabeled frames.

The reference is the plain model of that bank (``fold_cn``) with its BN
layers in training mode and ``momentum=None`` (fresh statistics), every
other module in eval mode, run over the same frames.
"""
import copy
import sys

import pytest
import torch
from torch import nn

import cn_seg
from cn_seg.models import BatchConsistentNorm, ConsistentNorm
from .cn_helpers import TOL64, tiny_deeplabv3


class Plain(nn.Module):
    """conv + BN + dropout + GN + conv + BN: dropout must be off."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
            nn.Dropout(0.5), nn.Conv2d(6, 6, 3, padding=1), nn.GroupNorm(2, 6),
            nn.ReLU(), nn.Conv2d(6, 4, 1), nn.BatchNorm2d(4, momentum=0.05))

    def forward(self, x, shift=0.0):
        return self.body(x + shift)


def cn_model(num_domains=3, seed=0):
    """A converted Plain model in float64 whose banks all differ."""
    torch.manual_seed(seed)
    model = cn_seg.convert_cn(Plain().double(), num_domains)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, ConsistentNorm):
                m.weight.copy_(1 + 0.3 * torch.randn_like(m.weight))
                m.bias.copy_(0.3 * torch.randn_like(m.bias))
            if isinstance(m, BatchConsistentNorm):
                m.running_mean.copy_(torch.randn_like(m.running_mean))
                m.running_var.copy_(0.5 + torch.rand_like(m.running_var))
                m.num_batches_tracked.fill_(11)
    return model


def frames(sizes=(3, 2, 4), seed=1):
    g = torch.Generator().manual_seed(seed)
    return [
        2 + 3 * torch.randn(n, 3, 5, 6, generator=g, dtype=torch.float64)
        for n in sizes
    ]


def plain_reference(model, bank, batches, call=lambda m, b: m(b)):
    """Bank ``bank`` folded, its BNs fresh with momentum=None, run over the
    batches in training mode (all other modules in eval mode)."""
    plain = cn_seg.fold_cn(copy.deepcopy(model), bank).eval()
    bns = [m for m in plain.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.momentum = None
        bn.reset_running_stats()
        bn.train()
    with torch.no_grad():
        for batch in batches:
            call(plain, batch)
    return plain


def bn_names(model):
    return [
        n for n, m in model.named_modules()
        if isinstance(m, BatchConsistentNorm)
    ]


@pytest.mark.parametrize('from_bank', [None, 0])
def test_statistics_equal_plain_bn_with_cumulative_average(from_bank):
    model, batches = cn_model(), frames()
    model.train()
    model.body[3].eval()  # modes are restored module by module
    modes = [m.training for m in model.modules()]
    before = copy.deepcopy(model.state_dict())
    source = 2 if from_bank is None else from_bank
    # The reference takes bank 2's affine parameters (from_bank's if given).
    ref_model = copy.deepcopy(model)
    with torch.no_grad():
        for m in ref_model.modules():
            if isinstance(m, ConsistentNorm):
                m.weight[2] = m.weight[source]
                m.bias[2] = m.bias[source]
    ref = plain_reference(ref_model, 2, batches)
    assert cn_seg.calibrate_bank(
        model, iter(batches), 2, from_bank=from_bank) == 3
    assert [m.training for m in model.modules()] == modes
    assert all(p.grad is None for p in model.parameters())
    state, ref_state = model.state_dict(), ref.state_dict()
    changed = {'running_mean', 'running_var', 'num_batches_tracked'}
    if from_bank is not None:
        changed |= {'weight', 'bias'}
    cn_layers = [
        n for n, m in model.named_modules() if isinstance(m, ConsistentNorm)
    ]
    for key, value in state.items():
        layer, kind = key.rsplit('.', 1)
        if layer not in cn_layers:
            assert torch.equal(value, before[key]), key
            continue
        for k in range(3):
            if k == 2 and kind in changed:
                torch.testing.assert_close(value[k], ref_state[key], **TOL64)
            else:
                assert torch.equal(value[k], before[key][k]), (key, k)
    momenta = [model.get_submodule(n).momentum for n in bn_names(model)]
    assert momenta == [0.1, 0.05]
    assert [
        int(model.get_submodule(n).num_batches_tracked[2])
        for n in bn_names(model)
    ] == [3, 3]
    # The calibrated bank now computes what the plain calibrated model does.
    x = frames((2, ), seed=4)[0]
    with cn_seg.domain_routing(model.eval(), [2, 2]):
        torch.testing.assert_close(model(x), ref.eval()(x), **TOL64)


def test_batches_as_tuples_and_dicts():
    model, batches = cn_model(), frames()
    tuples = [(x, 0.5) for x in batches]
    dicts = [dict(x=x, shift=0.5) for x in batches]
    ref = plain_reference(model, 1, tuples, lambda m, b: m(*b))
    by_tuple, by_dict = copy.deepcopy(model), copy.deepcopy(model)
    cn_seg.calibrate_bank(by_tuple, tuples, 1)
    cn_seg.calibrate_bank(by_dict, dicts, 1)
    for name in bn_names(model):
        for calibrated in (by_tuple, by_dict):
            torch.testing.assert_close(
                calibrated.get_submodule(name).running_var[1],
                ref.get_submodule(name).running_var, **TOL64)


def test_mmseg_segmentor_in_tensor_mode():
    """A CN segmentor with ``dict(inputs=x, mode='tensor')`` batches, bank 1
    from bank 0: the plain BN segmentor of bank 0 in training mode."""
    torch.manual_seed(0)
    model = tiny_deeplabv3(cn=True).double()
    g = torch.Generator().manual_seed(2)
    batches = [
        dict(
            inputs=torch.randn(n, 3, 32, 32, generator=g, dtype=torch.float64),
            mode='tensor') for n in (2, 3)
    ]
    ref = plain_reference(model, 0, batches, lambda m, b: m(**b))
    assert cn_seg.calibrate_bank(model, batches, 1, from_bank=0) == 2
    names = bn_names(model)
    assert len(names) > 20
    ref_state = ref.state_dict()
    for name in names:
        layer = model.get_submodule(name)
        torch.testing.assert_close(layer.running_mean[1],
                                   ref_state[f'{name}.running_mean'], **TOL64)
        torch.testing.assert_close(layer.running_var[1],
                                   ref_state[f'{name}.running_var'], **TOL64)


def test_bad_inputs_are_clear_errors_and_change_nothing():
    model = cn_model()
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match='got no batches'):
        cn_seg.calibrate_bank(model, [], 1)
    with pytest.raises(
            ValueError,
            match=r'bank=3 is not a bank of the '
            r'model: its CN layers have 3 banks'):
        cn_seg.calibrate_bank(model, frames(), 3)
    with pytest.raises(ValueError, match=r'from_bank=-1 is not a bank'):
        cn_seg.calibrate_bank(model, frames(), 1, from_bank=-1)
    with pytest.raises(ValueError, match='has no CN layer; convert'):
        cn_seg.calibrate_bank(Plain(), frames(), 0)
    with pytest.raises(
            ValueError,
            match='no CN layer of the model keeps '
            'running statistics'):
        cn_seg.calibrate_bank(
            cn_seg.convert_cn(nn.GroupNorm(1, 3), 2), frames(), 0)
    # A batch that fails half way (a wrong shape) leaves the model as it was.
    bad = frames() + [torch.zeros(2, 5, 5, 6, dtype=torch.float64)]
    with pytest.raises(RuntimeError) as info:
        cn_seg.calibrate_bank(model, bad, 1, from_bank=0)
    if sys.version_info >= (3, 11):  # exception notes
        assert 'calibrate_bank: in batch 3 (bank=1).' in info.value.__notes__
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert all(m.route is None for m in model.modules()
               if isinstance(m, ConsistentNorm))


def test_layers_no_batch_reaches_keep_their_statistics():
    """An mmseg auxiliary head does not run in mode='tensor': such a layer
    keeps bank ``bank``'s statistics instead of being reset."""
    model = cn_model()
    model.unused = cn_seg.convert_cn(nn.BatchNorm2d(4).double(), 3)
    with torch.no_grad():
        model.unused.running_mean.uniform_()
    before = copy.deepcopy(model.unused.state_dict())
    cn_seg.calibrate_bank(model, frames(), 1)
    for key, value in model.unused.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert int(model.body[1].num_batches_tracked[1]) == 3
