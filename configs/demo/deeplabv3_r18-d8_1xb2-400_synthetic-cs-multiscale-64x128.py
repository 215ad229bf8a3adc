# Transform-defined domains, BN baseline: the demo model trained on the
# synthetic real domain only, each crop seen twice in the same batch (2 crops
# x 2 views = 4 images, as in the other demos): view 0 as it is, view 1
# rescaled to half size and zero-padded back to the crop size (the CN paper's
# CIFAR pilot). One shared BN for both views. The loss is Algorithm 1's
# sum_k lambda_k * L(view k), each view's loss averaged over its labelled
# pixels (padding is ignored), logged per view (decode.loss_ce.cityscapes,
# decode.loss_ce.cityscapes-0.5x). Validation on the real val set at full size
# (`cityscapes`) and at half size (`cityscapes-0.5x`, bank 1 in the CN
# sibling: the paper's dynamic inference; `cityscapes-0.5x-bank0`, bank 0),
# and at half size padded like the training view (`cityscapes-0.5x-pad`, bank
# 1; `cityscapes-0.5x-pad-bank0`, bank 0).
_base_ = ['./deeplabv3_r18-d8_1xb4-400_synthetic-cs+gta5-64x128.py']
crop_size = _base_.crop_size  # (h, w)
view_names = ['cityscapes', 'cityscapes-0.5x']
half_view = [
    dict(type='Resize', scale_factor=0.5, keep_ratio=True),
    dict(type='Pad', size=crop_size[::-1], pad_val=dict(img=0, seg=255))
]
train_pipeline = _base_.train_pipeline[:-1] + [
    dict(type='TransformDomains', views=[half_view], domain_names=view_names)
]
train_dataloader = dict(
    batch_size=2,
    sampler=dict(samples_per_domain=[2]),
    collate_fn=dict(type='multi_view_collate'),
    dataset=dict(
        datasets=[
            dict(
                _base_.train_dataloader.dataset.datasets[0],
                pipeline=train_pipeline)
        ],
        domain_names=['cityscapes']))


def _val_at(scale, domain_idx, domain_name, pad=False):
    """The real val set at ``scale`` (w, h), evaluated with one bank.

    ``pad=True`` applies the training view's transform to the whole frame:
    rescaled together with its labels and padded back to the frame's size
    (labels 255, not scored), so the network sees the layout bank 1 was
    trained on (a quarter of the input is content, the ASPP image pool
    averages over the padding) and is scored at that scale.
    """
    if pad:
        pipeline = [
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='Resize', scale=scale, keep_ratio=True),
            dict(
                type='Pad',
                size=_base_.cityscapes_scale,
                pad_val=dict(img=0, seg=255))
        ]
    else:  # scored on the full-size labels, predictions upsampled
        pipeline = [
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=scale, keep_ratio=True),
            dict(type='LoadAnnotations')
        ]
    pipeline += [
        dict(type='PackSegInputs'),
        dict(type='SetDomain', domain_idx=domain_idx, domain_name=domain_name)
    ]
    return dict(_base_.val_dataloader.dataset.datasets[0], pipeline=pipeline)


val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            _val_at(_base_.cityscapes_scale, 0, 'cityscapes'),
            _val_at((128, 64), 1, 'cityscapes-0.5x'),
            _val_at((128, 64), 0, 'cityscapes-0.5x-bank0'),
            _val_at((128, 64), 1, 'cityscapes-0.5x-pad', pad=True),
            _val_at((128, 64), 0, 'cityscapes-0.5x-pad-bank0', pad=True)
        ]))
test_dataloader = val_dataloader


def _per_view_loss(loss_weight):
    """Cross-entropy summed over the views (Algorithm 1, lambda_k = 1)."""
    return dict(
        _delete_=True,
        type='DomainWeightedLoss',
        loss=dict(
            type='CrossEntropyLoss',
            loss_weight=loss_weight,
            avg_non_ignore=True))


model = dict(
    decode_head=dict(loss_decode=_per_view_loss(1.0)),
    auxiliary_head=dict(loss_decode=_per_view_loss(0.4)))
