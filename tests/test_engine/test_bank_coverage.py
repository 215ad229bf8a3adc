"""Banks that never saw a sample are found, from the model or a checkpoint.

A small BN model converted to 3-bank CN is trained routed to banks 0 and 2
only: bank 1 is untrained in every CN layer (the GN layer has no running
statistics and is not judged); after ``calibrate_bank`` fills bank 1 it is
not. A checkpoint without the per-bank counts (an older one) is judged by
its statistics, and a plain BN checkpoint (``(C,)`` state) not at all.
"""
import torch
from torch import nn

import cn_seg
from cn_seg.openmmlab.engine.bank_coverage import (untrained_bank_lines,
                                                   untrained_banks)


def _model():
    torch.manual_seed(0)
    plain = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 1),
        nn.GroupNorm(2, 4), nn.Conv2d(4, 2, 1), nn.BatchNorm2d(2))
    return cn_seg.convert_cn(plain, 3)


def _train(model, domain_idx):
    model.train()
    with cn_seg.domain_routing(model, domain_idx):
        model(torch.randn(len(domain_idx), 3, 6, 6)).sum().backward()


def test_a_bank_without_samples_is_named_in_every_layer():
    model = _model()
    _train(model, [0, 0, 2, 2])
    assert untrained_banks(model) == {1: ['1', '6']}
    assert untrained_bank_lines(untrained_banks(model)) == [
        'bank 1 of 1 (and 1 more CN layers) has seen 0 batches; is every '
        'domain in the training set?'
    ]
    batches = [torch.randn(2, 3, 6, 6) for _ in range(2)]
    cn_seg.calibrate_bank(model, batches, 1)
    assert untrained_banks(model) == {}


def test_judged_from_a_checkpoint_with_or_without_counts():
    model = _model()
    _train(model, [0, 0, 1, 1])
    state = model.state_dict()
    fresh = _model()
    assert untrained_banks(fresh) == {k: ['1', '6'] for k in range(3)}
    assert untrained_banks(fresh, state) == {2: ['1', '6']}
    old = {
        k: v
        for k, v in state.items() if not k.endswith('num_batches_tracked')
    }
    assert untrained_banks(fresh, old) == {2: ['1', '6']}
    plain = {k: v[0] for k, v in state.items() if v.dim() == 2}
    assert untrained_banks(fresh, plain) == {}
