# The synthetic domains of tools/make_synthetic_domains.py in the real
# Cityscapes (256x128 frames) and GTA5 (240x132 frames) layouts, prepared by
# the real converters (see tools/demo.sh). Two crops of each domain per batch;
# validation on both domains, each with its own CN bank (Cityscapes: 0,
# GTA5: 1), reported per class as `cityscapes/IoU.road`, `gta5/IoU.road`, ...
custom_imports = dict(imports=['cn_seg'], allow_failed_imports=False)
cityscapes_root = 'data/synthetic/cityscapes/'
gta5_root = 'data/synthetic/gta5/'
crop_size = (64, 128)


def _train_pipeline(scale):
    return [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(
            type='RandomResize',
            scale=scale,
            ratio_range=(0.5, 2.0),
            keep_ratio=True),
        dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PhotoMetricDistortion'),
        dict(type='PackSegInputs')
    ]


def _test_pipeline(scale):
    return [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=scale, keep_ratio=True),
        dict(type='LoadAnnotations'),
        dict(type='PackSegInputs')
    ]


# Each domain keeps its own frame size (GTA5 frames are scaled to the
# Cityscapes height, as on the real data) before the common crop.
cityscapes_scale = (256, 128)
gta5_scale = (240, 132)
train_pipeline = _train_pipeline(cityscapes_scale)
gta5_train_pipeline = _train_pipeline(gta5_scale)
test_pipeline = _test_pipeline(cityscapes_scale)
gta5_test_pipeline = _test_pipeline(gta5_scale)


def _cityscapes(split, pipeline):
    return dict(
        type='CityscapesDataset',
        data_root=cityscapes_root,
        data_prefix=dict(
            img_path=f'leftImg8bit/{split}', seg_map_path=f'gtFine/{split}'),
        pipeline=pipeline)


def _gta5(split, pipeline):
    return dict(
        type='GTA5Dataset',
        data_root=gta5_root,
        ann_file=f'{split}.txt',
        data_prefix=dict(img_path='images', seg_map_path='labels'),
        pipeline=pipeline)


train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DomainBalancedSampler', samples_per_domain=[2, 2]),
    batch_sampler=dict(type='DomainBalancedBatchSampler'),
    dataset=dict(
        type='MultiDomainDataset',
        datasets=[
            _cityscapes('train', train_pipeline),
            _gta5('train', gta5_train_pipeline)
        ],
        domain_names=['cityscapes', 'gta5']))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='MultiDomainDataset',
        datasets=[
            _cityscapes('val', test_pipeline),
            _gta5('val', gta5_test_pipeline)
        ],
        domain_names=['cityscapes', 'gta5']))
test_dataloader = val_dataloader
val_evaluator = dict(type='MultiDomainIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
