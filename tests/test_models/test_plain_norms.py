"""CN's torch-only plain norms are the layers mmcv's build_norm_layer makes."""
import pytest
import torch
from mmcv.cnn import build_norm_layer

from cn_seg.models.norms.plain_norms import PLAIN_NORMS, build_plain_norm

CFGS = [dict(type=name) for name in PLAIN_NORMS if name != 'GN'] + [
    dict(type='GN', num_groups=2),
    dict(type='BN', momentum=None, affine=False),
    dict(type='BN', eps=1e-3, requires_grad=False),
    dict(type='LN', elementwise_affine=False),
    dict(type='IN', affine=True),
]


@pytest.mark.parametrize('cfg', CFGS, ids=[str(c) for c in CFGS])
def test_same_layer_as_mmcv(cfg):
    ours = build_plain_norm(dict(cfg), 4)
    (_, theirs) = build_norm_layer(dict(cfg), 4)
    # mmcv's SyncBN is mmengine's subclass of torch's SyncBatchNorm, which
    # only changes an input check under parrots.
    assert isinstance(theirs, type(ours))
    assert type(ours).__module__.startswith('torch.nn')
    assert repr(ours) == repr(theirs)
    assert [(n, p.requires_grad) for n, p in ours.named_parameters()] == \
        [(n, p.requires_grad) for n, p in theirs.named_parameters()]
    for name, value in theirs.state_dict().items():
        torch.testing.assert_close(ours.state_dict()[name], value)


def test_group_norm_without_groups_is_refused_with_the_key():
    with pytest.raises(ValueError, match='num_groups'):
        build_plain_norm(dict(type='GN'), 4)
