# Cityscapes train + the GTA5 subset of 2975 frames (the size of Cityscapes
# train, Table 6 of the CN paper), one Cityscapes and one GTA5 crop in every
# per-GPU batch (4 GPUs x 2 images = 4 + 4 per step). Evaluation on Cityscapes
# val with per-class IoU (see cityscapes_per_domain.py).
#
# Prepare the data with
#   python tools/dataset_converters/cityscapes.py data/cityscapes
#   python tools/dataset_converters/gta5.py data/gta5 --subset 2975 --seed 0
_base_ = ['./cityscapes_per_domain.py']
gta5_root = 'data/gta5/'
gta5_subset = 'train_subset2975_seed0.txt'
# GTA5 frames are 1914x1052: scaling them into the same 2048x1024 range keeps
# their height (1024 px) and object sizes close to Cityscapes' before the
# common 512x1024 crop.
gta5_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(2048, 1024),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=_base_.crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=2,
    sampler=dict(
        _delete_=True, type='DomainBalancedSampler', samples_per_domain=[1,
                                                                         1]),
    batch_sampler=dict(type='DomainBalancedBatchSampler'),
    dataset=dict(
        _delete_=True,
        type='MultiDomainDataset',
        datasets=[
            _base_.train_dataloader.dataset,
            dict(
                type='GTA5Dataset',
                data_root=gta5_root,
                ann_file=gta5_subset,
                data_prefix=dict(img_path='images', seg_map_path='labels'),
                pipeline=gta5_train_pipeline)
        ],
        domain_names=['cityscapes', 'gta5']))
