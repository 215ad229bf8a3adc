"""Per-domain feature statistics against computations done another way."""
import numpy as np
import pytest
import torch
from torch import nn

from cn_seg.models import ConsistentNorm
from cn_seg_workbench.analysis.feature_statistics import (
    channel_gap, domain_distances, domain_statistics, own_statistics_reference,
    statistics_tables)


def test_w1_of_a_shifted_copy_is_the_shift_and_channel_gap_by_hand():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 3))
    b = a + np.array([1.0, -1.0, 0.0])  # pooled shifts cancel on average
    (pair, (w1, gap)), = domain_distances(dict(x=a, y=a + 0.25)).items()
    assert pair == ('x', 'y')
    assert w1 == pytest.approx(0.25, abs=1e-12)
    # per channel |Δmean| / sqrt((var_a + var_b) / 2), var_b == var_a
    expected = np.mean(np.abs(b.mean(0) - a.mean(0)) / a.std(0))
    assert channel_gap(a, b) == pytest.approx(expected, rel=1e-12)
    assert channel_gap(a, b) > 0.6 and channel_gap(a, a) == 0
    stats = domain_statistics(dict(x=a))
    assert stats['x'] == pytest.approx((a.mean(), a.std()), rel=1e-12)


def _normalized_input(mean, var, eps, n=64):
    """Inputs whose per-channel mean and biased variance + eps are exact."""
    z = torch.randn(n, len(mean), 4, 4, dtype=torch.float64)
    z = (z - z.mean((0, 2, 3), keepdim=True)) / z.std(
        (0, 2, 3), unbiased=False, keepdim=True)
    return z * (var + eps).sqrt().view(1, -1, 1, 1) + mean.view(1, -1, 1, 1)


@pytest.mark.parametrize('bank', [0, 1])
def test_own_statistics_reference_is_what_the_layer_outputs(bank):
    """Input with bank k's running statistics comes out as N(beta, gamma^2)
    per channel: the pooled mean and std are the reference (float64)."""
    torch.manual_seed(bank)
    layer = ConsistentNorm(5, num_domains=2).double().eval()
    with torch.no_grad():
        layer.weight.uniform_(0.5, 2.0)
        layer.bias.normal_()
        layer.running_mean.normal_()
        layer.running_var.uniform_(0.5, 3.0)
    x = _normalized_input(layer.running_mean[bank], layer.running_var[bank],
                          layer.eps)
    import cn_seg
    with torch.no_grad(), cn_seg.domain_routing(layer, [bank] * len(x)):
        y = layer(x)
    mean, std = own_statistics_reference(layer, bank)
    assert mean == pytest.approx(y.mean().item(), rel=1e-9, abs=1e-12)
    assert std == pytest.approx(y.std(unbiased=False).item(), rel=1e-9)
    other = own_statistics_reference(layer, 1 - bank)
    assert other[0] != pytest.approx(mean)


def test_reference_of_plain_bn_and_of_layers_without_it():
    bn = nn.BatchNorm2d(3)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, 2.0, 3.0]))
        bn.bias.copy_(torch.tensor([0.0, 1.0, 2.0]))
    mean, std = own_statistics_reference(bn, bank=1)
    # mixture of N(0,1), N(1,4), N(2,9): E = 1, E[x^2] = (1 + 5 + 13) / 3
    assert (mean, std) == pytest.approx((1.0, np.sqrt(19 / 3 - 1)))
    assert own_statistics_reference(nn.BatchNorm2d(3, affine=False)) is None
    assert own_statistics_reference(nn.GroupNorm(1, 3)) is None
    assert own_statistics_reference(nn.ReLU()) is None
    gn = ConsistentNorm(4, norm_cfg=dict(type='GN', num_groups=2))
    assert own_statistics_reference(gn) is None


def test_tables_list_every_model_domain_and_pair():
    values = dict(cityscapes=np.zeros((4, 2)), gta5=np.ones((4, 2)))
    text = statistics_tables(
        dict(BN=values, CN=values), dict(CN=dict(gta5=(0.5, 2.0))))
    lines = text.splitlines()
    assert '| BN | cityscapes | 0.000 | 0.000 | - | - |' in lines
    assert '| CN | gta5 | 1.000 | 0.000 | 0.500 | 2.000 |' in lines
    assert '| CN | cityscapes vs gta5 | 1.000 | nan |' in lines
