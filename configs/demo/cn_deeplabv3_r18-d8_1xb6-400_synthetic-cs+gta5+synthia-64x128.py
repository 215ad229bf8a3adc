# Demo, three domains: the CN demo (0 synthetic Cityscapes, 1 synthetic GTA5)
# with the generator's SYNTHIA-layout domain as bank 2 (written by
# `tools/make_synthetic_domains.py --domains cityscapes gta5 synthia` and
# prepared by tools/dataset_converters/synthia.py), two crops of each domain
# per batch. Validation on the Cityscapes and GTA5 val sets, each also as the
# mIoU over the SYNTHIA benchmark's 16 and 13 classes
# (`cityscapes/mIoU.synthia16`, ...).
_base_ = ['./cn_deeplabv3_r18-d8_1xb4-400_synthetic-cs+gta5-64x128.py']
norm_cfg = dict(
    type='CN', num_domains=3, norm_cfg=dict(type='SyncBN'), requires_grad=True)
model = dict(
    backbone=dict(norm_cfg=norm_cfg),
    decode_head=dict(norm_cfg=norm_cfg),
    auxiliary_head=dict(norm_cfg=norm_cfg))
synthia_root = 'data/synthetic/synthia/'
# The synthetic SYNTHIA frames are 160x95 (1280x760 / 8, as the other
# domains'): scaled to the Cityscapes height before the crop, as GTA5's.
synthia_train_pipeline = [
    dict(t, scale=(216, 128)) if t['type'] == 'RandomResize' else t
    for t in _base_.gta5_train_pipeline
]
train_dataloader = dict(
    batch_size=6,
    sampler=dict(samples_per_domain=[2, 2, 2]),
    dataset=dict(
        datasets=_base_.train_dataloader.dataset.datasets + [
            dict(
                type='SynthiaDataset',
                data_root=synthia_root,
                ann_file='train.txt',
                data_prefix=dict(img_path='RGB', seg_map_path='GT/LABELS'),
                pipeline=synthia_train_pipeline)
        ],
        domain_names=['cityscapes', 'gta5', 'synthia']))
val_evaluator = dict(class_subsets='SynthiaDataset')
test_evaluator = val_evaluator
