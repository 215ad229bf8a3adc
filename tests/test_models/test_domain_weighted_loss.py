"""DomainWeightedLoss against a hand computation of sum_k lambda_k * CE_k."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from cn_seg import domain_routing, enable_domain_routing


def _model(weights, aux_weights=None):
    norm = dict(type='CN', num_domains=2, norm_cfg=dict(type='BN'))
    aux_loss = dict(type='CrossEntropyLoss') if aux_weights is None else \
        dict(type='DomainWeightedLoss', loss=dict(type='CrossEntropyLoss'),
             domain_weights=aux_weights)
    return MODELS.build(
        dict(
            type='EncoderDecoder',
            data_preprocessor=dict(type='SegDataPreProcessor'),
            backbone=dict(
                type='ResNetV1c',
                depth=18,
                base_channels=8,
                stem_channels=8,
                norm_cfg=norm),
            decode_head=dict(
                type='FCNHead',
                in_channels=64,
                in_index=3,
                channels=8,
                num_convs=1,
                num_classes=4,
                dropout_ratio=0,
                norm_cfg=norm,
                loss_decode=dict(
                    type='DomainWeightedLoss',
                    loss=dict(type='CrossEntropyLoss'),
                    domain_weights=weights)),
            auxiliary_head=dict(
                type='FCNHead',
                in_channels=32,
                in_index=2,
                channels=8,
                num_convs=1,
                num_classes=4,
                dropout_ratio=0,
                norm_cfg=norm,
                loss_decode=aux_loss)))


def _samples(domains, names, labels):
    out = []
    for d, label in zip(domains, labels):
        s = SegDataSample(
            metainfo=dict(
                img_shape=(32, 32),
                pad_shape=(32, 32),
                ori_shape=(32, 32),
                domain_idx=d,
                domain_name=names[d]))
        s.gt_sem_seg = PixelData(data=label[None])
        out.append(s)
    return out


def test_loss_is_the_weighted_sum_of_per_domain_losses():
    torch.manual_seed(0)
    model = enable_domain_routing(_model([1.0, 0.5])).train()
    x = torch.randn(4, 3, 32, 32)
    labels = torch.randint(0, 4, (4, 32, 32))
    domains = [1, 0, 0, 1]
    samples = _samples(domains, ['cityscapes', 'gta5'], labels)
    losses = model(x, samples, mode='loss')
    assert 'decode.loss_ce' not in losses
    assert {'decode.loss_ce.cityscapes', 'decode.loss_ce.gta5',
            'aux.loss_ce'} <= set(losses)

    # Hand computation from the same model's logits: float32, but the logits
    # come from the same batch of 4 through the same kernels as the loss's,
    # so only the cross-entropy's reduction order differs (a few ulps of
    # sums over 2 x 32 x 32 pixels): 1e-5 relative bounds it on any CPU.
    with domain_routing(model, domains):
        feats = model.extract_feat(x)
        logits = F.interpolate(
            model.decode_head(feats),
            size=(32, 32),
            mode='bilinear',
            align_corners=False)
    by_domain = {}
    for k in (0, 1):
        sel = torch.tensor([i for i, d in enumerate(domains) if d == k])
        by_domain[k] = F.cross_entropy(logits[sel], labels[sel])
    torch.testing.assert_close(
        losses['decode.loss_ce.cityscapes'],
        1.0 * by_domain[0],
        rtol=1e-5,
        atol=1e-6)
    torch.testing.assert_close(
        losses['decode.loss_ce.gta5'],
        0.5 * by_domain[1],
        rtol=1e-5,
        atol=1e-6)
    total, log_vars = model.parse_losses(losses)
    torch.testing.assert_close(
        total,
        by_domain[0] + 0.5 * by_domain[1] + losses['aux.loss_ce'],
        rtol=1e-5,
        atol=1e-6)
    assert 'decode.loss_ce.gta5' in log_vars
    total.backward()


def test_two_heads_of_one_loss_name_log_their_own_parts():
    """The decode and auxiliary heads both name their loss ``loss_ce``."""
    torch.manual_seed(0)
    model = enable_domain_routing(_model([1.0, 0.5], [2.0, 1.0])).train()
    x = torch.randn(4, 3, 32, 32)
    labels = torch.randint(0, 4, (4, 32, 32))
    domains = [0, 1, 1, 0]
    losses = model(x, _samples(domains, ['a', 'b'], labels), mode='loss')
    assert 'decode.loss_ce' not in losses and 'aux.loss_ce' not in losses
    with domain_routing(model, domains):
        feats = model.extract_feat(x)
        heads = dict(
            decode=model.decode_head(feats), aux=model.auxiliary_head(feats))
    # float32 as above: the same logits, only the reduction order differs.
    for head, weights in (('decode', (1.0, 0.5)), ('aux', (2.0, 1.0))):
        logits = F.interpolate(
            heads[head], size=(32, 32), mode='bilinear', align_corners=False)
        for k, name in enumerate('ab'):
            sel = torch.tensor([i for i, d in enumerate(domains) if d == k])
            torch.testing.assert_close(
                losses[f'{head}.loss_ce.{name}'],
                weights[k] * F.cross_entropy(logits[sel], labels[sel]),
                rtol=1e-5,
                atol=1e-6)


def test_weights_change_the_loss_as_stated():
    torch.manual_seed(0)
    x = torch.randn(4, 3, 32, 32)
    labels = torch.randint(0, 4, (4, 32, 32))
    values = {}
    for weights in ([1.0, 1.0], [1.0, 3.0]):
        torch.manual_seed(1)
        model = enable_domain_routing(_model(weights)).train()
        losses = model(
            x, _samples([0, 0, 1, 1], ['a', 'b'], labels), mode='loss')
        values[weights[1]] = losses
    torch.testing.assert_close(values[3.0]['decode.loss_ce.b'],
                               3 * values[1.0]['decode.loss_ce.b'])
    torch.testing.assert_close(values[3.0]['decode.loss_ce.a'],
                               values[1.0]['decode.loss_ce.a'])


def test_bad_weights_and_missing_route_are_clear_errors():
    with pytest.raises(ValueError, match='non-negative'):
        MODELS.build(
            dict(
                type='DomainWeightedLoss',
                loss=dict(type='CrossEntropyLoss'),
                domain_weights=[1, -1]))
    loss = MODELS.build(
        dict(type='DomainWeightedLoss', loss=dict(type='CrossEntropyLoss')))
    with pytest.raises(RuntimeError, match='DomainRoutingHook'):
        loss(torch.randn(1, 3, 4, 4), torch.zeros(1, 4, 4, dtype=torch.long))
