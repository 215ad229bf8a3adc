"""Building CN layers with distinct banks, and the plain reference step."""
import torch
from mmcv.cnn import build_norm_layer
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from cn_seg import domain_routing
from cn_seg_workbench.oracles.reference import PerDomainNorm

#: float64: every path sums in another order; 1e-10 bounds that rounding.
TOL64 = dict(rtol=1e-10, atol=1e-10)


def make_cn(channels, t, inner=None, dtype=torch.float64, seed=0, **kwargs):
    """A CN layer whose banks all differ (so a wrong bank shows)."""
    inner = inner or dict(type='BN')
    cn = build_norm_layer(
        dict(type='CN', num_domains=t, norm_cfg=inner, **kwargs),
        channels)[1].to(dtype)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        if cn.weight is not None:
            cn.weight.copy_(1 +
                            0.5 * torch.randn(cn.weight.shape, generator=g))
            cn.bias.copy_(torch.randn(cn.bias.shape, generator=g))
        if getattr(cn, 'running_mean', None) is not None:
            cn.running_mean.copy_(
                torch.randn(cn.running_mean.shape, generator=g))
            cn.running_var.copy_(
                torch.rand(cn.running_var.shape, generator=g) + 0.5)
    return cn


def plain_step(banks, x, domain_idx, grad_out):
    """Algorithm 1: each domain's samples through its own plain layer.

    Args:
        banks (PerDomainNorm): The plain layers; they accumulate gradients.

    Returns:
        tuple: ``(out, grad_x)``.
    """
    x = x.detach().clone().requires_grad_()
    out = banks(x, domain_idx)
    out.backward(grad_out)
    return out, x.grad


def reference_step(cn, x, domain_idx, grad_out):
    """Algorithm 1 with plain layers holding copies of ``cn``'s banks.

    Returns:
        tuple: ``(out, grad_x, banks)``; ``banks`` hold the updated running
        statistics and the parameter gradients.
    """
    banks = PerDomainNorm.from_cn(cn)
    out, grad_x = plain_step(banks, x, domain_idx, grad_out)
    return out, grad_x, banks.banks


def cn_step(cn, x, domain_idx, grad_out):
    """One routed forward and backward of ``cn``: ``(out, grad_x)``."""
    x = x.detach().clone().requires_grad_()
    with domain_routing(cn, domain_idx):
        out = cn(x)
    out.backward(grad_out)
    return out, x.grad


def assert_banks_equal(cn, banks, tol, params=True):
    """Every bank of ``cn`` equals its plain reference layer."""
    for k, bank in enumerate(banks):
        if params and cn.weight is not None:
            torch.testing.assert_close(cn.weight.grad[k], bank.weight.grad,
                                       **tol)
            torch.testing.assert_close(cn.bias.grad[k], bank.bias.grad, **tol)
        if getattr(cn, 'running_mean', None) is not None:
            torch.testing.assert_close(cn.running_mean[k], bank.running_mean,
                                       **tol)
            torch.testing.assert_close(cn.running_var[k], bank.running_var,
                                       **tol)
            assert int(cn.num_batches_tracked[k]) == \
                int(bank.num_batches_tracked)


def _norm(cn):
    return dict(type='CN', num_domains=2, norm_cfg=dict(type='BN')) if cn \
        else dict(type='BN')


def tiny_deeplabv3(cn):
    """A DeepLabV3-like EncoderDecoder (ResNetV1c-18 at width 8, ASPP, FCN
    auxiliary head), with CN of 2 banks if ``cn``, else BN."""
    norm = _norm(cn)
    return MODELS.build(
        dict(
            type='EncoderDecoder',
            data_preprocessor=dict(type='SegDataPreProcessor'),
            backbone=dict(
                type='ResNetV1c',
                depth=18,
                base_channels=8,
                stem_channels=8,
                dilations=(1, 1, 2, 4),
                strides=(1, 2, 1, 1),
                norm_cfg=norm),
            decode_head=dict(
                type='ASPPHead',
                in_channels=64,
                in_index=3,
                channels=16,
                dilations=(1, 2),
                num_classes=5,
                dropout_ratio=0,
                norm_cfg=norm),
            auxiliary_head=dict(
                type='FCNHead',
                in_channels=32,
                in_index=2,
                channels=8,
                num_convs=1,
                num_classes=5,
                dropout_ratio=0,
                norm_cfg=norm,
                loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4))))


def tiny_cascade(cn):
    """A CascadeEncoderDecoder (FCN then OCR head), CN or BN."""
    norm = _norm(cn)
    return MODELS.build(
        dict(
            type='CascadeEncoderDecoder',
            num_stages=2,
            data_preprocessor=dict(type='SegDataPreProcessor'),
            backbone=dict(
                type='ResNetV1c',
                depth=18,
                base_channels=8,
                stem_channels=8,
                norm_cfg=norm),
            decode_head=[
                dict(
                    type='FCNHead',
                    in_channels=64,
                    in_index=3,
                    channels=8,
                    num_convs=1,
                    num_classes=5,
                    dropout_ratio=0,
                    norm_cfg=norm),
                dict(
                    type='OCRHead',
                    in_channels=64,
                    in_index=3,
                    channels=8,
                    ocr_channels=8,
                    num_classes=5,
                    dropout_ratio=0,
                    norm_cfg=norm)
            ]))


def data_samples(domains, size):
    """SegDataSamples with random labels; a domain of None gets no
    ``domain_idx`` (domain 0)."""
    out = []
    for d in domains:
        meta = dict(img_shape=size, pad_shape=size, ori_shape=size)
        if d is not None:
            meta['domain_idx'] = d
        s = SegDataSample(metainfo=meta)
        s.gt_sem_seg = PixelData(data=torch.randint(0, 5, (1, ) + size))
        out.append(s)
    return out
