"""adapt_bank: one bank's statistics follow the batches it predicts.

The reference is the plain model of the start bank (``fold_cn``), each of
its BN layers replaced by "update, then normalize": torch's own BN in
training mode (with the same momentum; ``None`` is its cumulative average)
run on the layer's input only for its running statistics, then the same BN
in eval mode for the output. It runs in float64 over the same batches.
"""
import copy

import pytest
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

import cn_seg
from cn_seg.models import BatchConsistentNorm, ConsistentNorm
from .cn_helpers import TOL64, tiny_deeplabv3
from .test_calibrate_bank import Plain, cn_model, frames


class UpdateThenNormalize(nn.Module):
    """A plain BN whose running statistics take each input before it is
    normalized with them; one value per channel updates nothing."""

    def __init__(self, bn: _BatchNorm):
        super().__init__()
        self.bn = bn

    def forward(self, x):
        if x.numel() > x.shape[1]:
            self.bn.train()
            self.bn(x)
        return self.bn.eval()(x)


def reference(model, bank, momentum):
    """The folded plain model of ``bank``, its BNs updated then used."""
    plain = cn_seg.fold_cn(copy.deepcopy(model), bank).eval()
    for name, bn in list(plain.named_modules()):
        if isinstance(bn, _BatchNorm):
            bn.momentum = momentum
            bn.num_batches_tracked.zero_()
            parent, _, attr = name.rpartition('.')
            setattr(plain.get_submodule(parent), attr, UpdateThenNormalize(bn))
    return plain


def cn_layer_names(model):
    return [
        n for n, m in model.named_modules() if isinstance(m, ConsistentNorm)
    ]


@pytest.mark.parametrize('momentum', [None, 0.3])
@pytest.mark.parametrize('from_bank', [None, 0])
def test_predictions_and_statistics_equal_plain_bn_updated_per_batch(
        momentum, from_bank):
    model, batches = cn_model(), frames()
    model.eval()
    before = copy.deepcopy(model.state_dict())
    ref = reference(model, 2 if from_bank is None else from_bank, momentum)
    with cn_seg.adapt_bank(
            model, 2, from_bank=from_bank, momentum=momentum) as adapted:
        for x in batches:
            # Routing says bank 1; the adaptation runs bank 2.
            with cn_seg.domain_routing(model, [1] * len(x)):
                out = model(x)
            torch.testing.assert_close(out, ref(x), **TOL64)
    assert adapted.num_batches == 3 and adapted.skipped == {}
    state = model.state_dict()
    for layer in cn_layer_names(model):
        for kind in ('weight', 'bias', 'running_mean', 'running_var',
                     'num_batches_tracked'):
            key = f'{layer}.{kind}'
            if key not in state:
                continue
            for k in (0, 1):  # the trained banks, bit for bit
                assert torch.equal(state[key][k], before[key][k]), (key, k)
    # The adapted bank is what the reference's BNs hold.
    for name, m in model.named_modules():
        if isinstance(m, BatchConsistentNorm):
            bn = ref.get_submodule(name).bn
            torch.testing.assert_close(m.running_mean[2], bn.running_mean,
                                       **TOL64)
            torch.testing.assert_close(m.running_var[2], bn.running_var,
                                       **TOL64)
            assert int(m.num_batches_tracked[2]) == 3
            torch.testing.assert_close(m.weight[2], bn.weight, **TOL64)
    # Every other parameter and buffer is untouched, the routes restored.
    for key, value in state.items():
        if key.rsplit('.', 1)[0] not in cn_layer_names(model):
            assert torch.equal(value, before[key]), key
    assert all(m.route is None for m in model.modules()
               if isinstance(m, ConsistentNorm))
    assert all(not m.training for m in model.modules())


def test_mmseg_segmentor_with_pooling_in_batches_of_one_frame():
    """ASPP's image pooling sees one value per channel in a batch of one
    frame: that layer updates nothing from it, the others do."""
    torch.manual_seed(0)
    model = tiny_deeplabv3(cn=True).double().eval()
    g = torch.Generator().manual_seed(3)
    batches = [
        torch.randn(n, 3, 32, 32, generator=g, dtype=torch.float64)
        for n in (1, 3, 1)
    ]
    ref = reference(model, 0, 0.2)
    with cn_seg.adapt_bank(model, 1, from_bank=0, momentum=0.2) as adapted:
        for x in batches:
            torch.testing.assert_close(
                model(x, mode='tensor'), ref(x, mode='tensor'), **TOL64)
    assert adapted.skipped == {'decode_head.image_pool.1.bn': 2}
    assert adapted.num_batches == 3


def test_training_mode_failures_and_bad_arguments():
    model = cn_model()
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match='momentum=0 must be None'):
        cn_seg.adapt_bank(model, 1, momentum=0)
    with pytest.raises(ValueError, match='adapt_bank: bank=3 is not a bank'):
        cn_seg.adapt_bank(model, 3)
    with pytest.raises(ValueError, match='adapt_bank: the model has no CN'):
        cn_seg.adapt_bank(Plain(), 0)
    model.train()
    with pytest.raises(RuntimeError, match='call model.eval'):
        with cn_seg.adapt_bank(model, 1, from_bank=0):
            model(frames()[0])
    # A failed stream gives the bank its state back.
    model.eval()
    with pytest.raises(RuntimeError):
        with cn_seg.adapt_bank(model, 1, from_bank=0):
            model(frames()[0])
            model(torch.zeros(2, 5, 5, 6, dtype=torch.float64))
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert all(m.route is None for m in model.modules()
               if isinstance(m, ConsistentNorm))


def test_unreached_layers_warn_and_keep_the_start():
    model = cn_model().eval()
    model.unused = cn_seg.convert_cn(nn.BatchNorm2d(4).double(), 3)
    with torch.no_grad():
        model.unused.running_mean.uniform_()
    with pytest.warns(UserWarning, match='1 CN layers got no input'):
        with cn_seg.adapt_bank(model, 1, from_bank=2):
            model(frames()[0])
    assert torch.equal(model.unused.running_mean[1],
                       model.unused.running_mean[2])
