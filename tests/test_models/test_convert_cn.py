"""convert_cn: any PyTorch model's norm layers become CN layers.

The reference is the plain model itself (before the banks diverge) and,
after routed training, the same model with every norm replaced by
``PerDomainNorm`` (plain layers applied to each domain's samples), trained on
the same batches; ``fold_cn`` must then give the plain model of each bank.
"""
import copy

import pytest
import torch
from torch import nn

import cn_seg
from cn_seg.models import (AffineConsistentNorm, BatchConsistentNorm,
                           ConsistentNorm)
from cn_seg_workbench.oracles.reference import PerDomainNorm
from .cn_helpers import TOL64

NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm,
         nn.InstanceNorm2d)


class Plain(nn.Module):
    """conv + BN2d + GN + IN, then linear + BN1d + LN: every kind of norm."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8, momentum=0.3)
        self.block = nn.Sequential(
            nn.Conv2d(8, 8, 3, padding=1), nn.GroupNorm(2, 8, eps=1e-4),
            nn.ReLU(), nn.InstanceNorm2d(8, affine=True))
        self.fc = nn.Linear(8, 6)
        self.bn1d = nn.BatchNorm1d(6, momentum=None)
        self.ln = nn.LayerNorm(6)
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        x = self.block(torch.relu(self.bn(self.conv1(x))))
        x = self.bn1d(self.fc(x.mean((2, 3))))
        return self.head(torch.relu(self.ln(x)))


def plain_model(seed=0):
    """A float64 Plain model with non-trivial norm state."""
    torch.manual_seed(seed)
    model = Plain().double()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, NORMS) and getattr(m, 'weight', None) is not None:
                m.weight.copy_(1 + 0.3 * torch.randn_like(m.weight))
                m.bias.copy_(0.3 * torch.randn_like(m.bias))
            if getattr(m, 'running_mean', None) is not None:
                m.running_mean.copy_(0.2 * torch.randn_like(m.running_mean))
                m.running_var.copy_(0.5 + torch.rand_like(m.running_var))
                m.num_batches_tracked.fill_(7)
    return model


def inputs(seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(4, 3, 6, 6, generator=g, dtype=torch.float64)


def test_converts_every_norm_keeping_its_settings():
    plain = plain_model()
    plain.fc.weight.requires_grad_(False)
    plain.bn.bias.requires_grad_(False)
    model = cn_seg.convert_cn(copy.deepcopy(plain), 3, eval_domain=2)
    assert not [
        m for m in model.modules()
        if isinstance(m, NORMS) and not isinstance(m, ConsistentNorm)
    ]
    assert isinstance(model.bn, BatchConsistentNorm)
    assert isinstance(model.bn1d, BatchConsistentNorm)
    for name in ('block.1', 'block.3', 'ln'):
        assert isinstance(model.get_submodule(name), AffineConsistentNorm)
    assert model.bn.norm_cfg == dict(
        type='BN',
        eps=1e-5,
        momentum=0.3,
        affine=True,
        track_running_stats=True)
    assert model.bn1d.momentum is None and model.bn1d.norm_cfg['type'] == \
        'BN1d'
    assert model.block[1].norm_cfg['num_groups'] == 2
    assert model.block[1].eps == 1e-4
    assert model.bn.eval_domain == 2 and model.ln.num_domains == 3
    assert not model.bn.bias.requires_grad and model.bn.weight.requires_grad
    assert not model.fc.weight.requires_grad
    for name, tensor in list(model.named_parameters()) + list(
            model.named_buffers()):
        assert tensor.dtype == (torch.long if 'num_batches' in name else
                                torch.float64), name
    # Every bank holds the plain layer's state.
    state = plain.state_dict()
    for key, value in model.state_dict().items():
        if value.dim() > state[key].dim():
            for k in range(3):
                assert torch.equal(value[k], state[key]), key
        else:
            assert torch.equal(value, state[key]), key


def test_outputs_unchanged_in_eval_and_train_mode():
    plain, x = plain_model(), inputs()
    model = cn_seg.convert_cn(copy.deepcopy(plain), 2)
    # eval: unrouted inputs use eval_domain; any routing gives the same.
    torch.testing.assert_close(model.eval()(x), plain.eval()(x), **TOL64)
    with cn_seg.domain_routing(model, [1, 0, 1, 0]):
        torch.testing.assert_close(model(x), plain(x), **TOL64)
    # train: all samples in one bank is the plain model in training mode,
    # and only that bank's running statistics move.
    model.train(), plain.train()
    before = copy.deepcopy(model.state_dict())
    with cn_seg.domain_routing(model, [1, 1, 1, 1]):
        out = model(x)
    torch.testing.assert_close(out, plain(x), **TOL64)
    for name in ('bn', 'bn1d'):
        cn, ref = model.get_submodule(name), plain.get_submodule(name)
        torch.testing.assert_close(cn.running_mean[1], ref.running_mean,
                                   **TOL64)
        torch.testing.assert_close(cn.running_var[1], ref.running_var, **TOL64)
        assert int(cn.num_batches_tracked[1]) == 8
        assert torch.equal(cn.running_mean[0],
                           before[f'{name}.running_mean'][0])


def test_a_norm_layer_is_returned_converted_and_modes_kept():
    bn = nn.BatchNorm3d(4, affine=False).double().eval()
    cn = cn_seg.convert_cn(bn, 2)
    assert isinstance(cn, BatchConsistentNorm) and not cn.training
    assert cn.weight is None and cn.running_mean.dtype == torch.float64
    x = torch.randn(2, 4, 3, 2, 2, dtype=torch.float64)
    torch.testing.assert_close(cn(x), bn(x), **TOL64)


def test_shared_layer_stays_shared():
    norm = nn.BatchNorm2d(3)
    model = nn.Sequential(nn.Conv2d(3, 3, 1), norm, nn.Conv2d(3, 3, 1), norm)
    model = cn_seg.convert_cn(model, 2)
    assert isinstance(model[1], ConsistentNorm) and model[1] is model[3]


@pytest.mark.parametrize('shape', [(8, 5), (8, 5, 7), (8, 5, 2, 3, 4)])
def test_batch_cn_on_1d_2d_and_3d_inputs(shape, backend):
    """BatchConsistentNorm from BN1d/BN3d on (N, C), (N, C, L), (N, C, D, H,
    W): mixed batches equal plain layers per domain, train and eval."""
    bn = (nn.BatchNorm3d if len(shape) == 5 else nn.BatchNorm1d)(5).double()
    cn = cn_seg.convert_cn(bn, 2)
    with torch.no_grad():
        cn.weight[1].mul_(2).add_(0.5)
        cn.bias[1].add_(1)
    ref = PerDomainNorm.from_cn(cn)
    x = torch.randn(shape, dtype=torch.float64)
    domains = [0, 1, 1, 0, 1, 0, 0, 1]
    with cn_seg.domain_routing(cn, domains):
        torch.testing.assert_close(cn(x), ref(x, domains), **TOL64)
        cn.eval(), ref.eval()
        torch.testing.assert_close(cn(x), ref(x, domains), **TOL64)
    for k in range(2):
        torch.testing.assert_close(cn.running_var[k], ref.banks[k].running_var,
                                   **TOL64)


class _Routed(nn.Module):
    """PerDomainNorm reading the batch's domains from a shared holder."""

    def __init__(self, norm, holder):
        super().__init__()
        self.norm, self.holder = norm, holder

    def forward(self, x):
        return self.norm(x, self.holder['domain_idx'])


def per_domain_reference(plain, num_domains, holder):
    """``plain`` with each norm layer as ``num_domains`` plain copies."""
    for parent in list(plain.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, NORMS):
                banks = [copy.deepcopy(child) for _ in range(num_domains)]
                setattr(parent, name, _Routed(PerDomainNorm(banks), holder))
    return plain


def test_round_trip_convert_route_train_fold():
    """Routed SGD steps on two domains, then fold_cn: each bank's model is
    the plain model trained with per-domain norm layers."""
    plain, holder = plain_model(), {}
    model = cn_seg.convert_cn(copy.deepcopy(plain), 2).train()
    ref = per_domain_reference(copy.deepcopy(plain), 2, holder).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    g = torch.Generator().manual_seed(3)
    for domains in ([0, 1, 0, 1], [1, 1, 0, 0], [0, 0, 1, 1]):
        x = torch.randn(4, 3, 6, 6, generator=g, dtype=torch.float64)
        target = torch.randn(4, 3, generator=g, dtype=torch.float64)
        with cn_seg.domain_routing(model, domains):
            loss = ((model(x) - target)**2).sum()
        holder['domain_idx'] = domains
        ref_loss = ((ref(x) - target)**2).sum()
        torch.testing.assert_close(loss, ref_loss, **TOL64)
        for o in (opt, ref_opt):
            o.zero_grad()
        loss.backward(), ref_loss.backward()
        opt.step(), ref_opt.step()
    assert not torch.equal(model.bn.weight[0], model.bn.weight[1])
    x = inputs(seed=5)
    for k in range(2):
        folded = cn_seg.fold_cn(copy.deepcopy(model), k).eval()
        assert not [
            m for m in folded.modules() if isinstance(m, ConsistentNorm)
        ]
        assert type(folded.bn1d) is nn.BatchNorm1d
        holder['domain_idx'] = [k] * 4
        torch.testing.assert_close(folded(x), ref.eval()(x), **TOL64)
        with cn_seg.domain_routing(model, [k] * 4):
            torch.testing.assert_close(model.eval()(x), folded(x), **TOL64)


def test_refusals_are_clear_and_change_nothing():
    model = nn.Sequential(
        nn.BatchNorm2d(3), nn.InstanceNorm2d(3, track_running_stats=True))
    with pytest.raises(
            ValueError,
            match=r'1 is an InstanceNorm2d with '
            'track_running_stats=True'):
        cn_seg.convert_cn(model, 2)
    assert type(model[0]) is nn.BatchNorm2d
    with pytest.raises(ValueError, match='ln is a LayerNorm with bias=False'):
        cn_seg.convert_cn(
            nn.ModuleDict(dict(ln=nn.LayerNorm(4, bias=False))), 2)
    with pytest.raises(ValueError, match='num_domains >= 1'):
        cn_seg.convert_cn(nn.BatchNorm2d(3), 0)
    with pytest.raises(ValueError, match=r'eval_domain=2 must be a bank'):
        cn_seg.convert_cn(nn.BatchNorm2d(3), 2, eval_domain=2)
