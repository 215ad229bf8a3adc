# Three domains, one CN bank each (0: Cityscapes, 1: GTA5, 2: SYNTHIA
# RAND_CITYSCAPES): the Cityscapes + GTA5 CN config (the paper's Table 6
# recipe: DeepLabV3 R50-D8, 512x1024 crops, 80k iterations, SyncBN inside
# CN) with SYNTHIA added, one crop of each domain in every per-GPU batch (4
# GPUs x 3 images). Evaluation on Cityscapes val with bank 0, also as the
# mIoU over the 16 and 13 classes of the SYNTHIA -> Cityscapes benchmark
# (`cityscapes/mIoU.synthia16`, `cityscapes/mIoU.synthia13`).
#
# Prepare the data with
#   python tools/dataset_converters/cityscapes.py data/cityscapes
#   python tools/dataset_converters/gta5.py data/gta5 --subset 2975 --seed 0
#   python tools/dataset_converters/synthia.py data/synthia \
#       --subset 2975 --seed 0
_base_ = ['./cn_deeplabv3_r50-d8_4xb2-80k_cityscapes+gta5-512x1024.py']
norm_cfg = dict(
    type='CN', num_domains=3, norm_cfg=dict(type='SyncBN'), requires_grad=True)
model = dict(
    backbone=dict(norm_cfg=norm_cfg),
    decode_head=dict(norm_cfg=norm_cfg),
    auxiliary_head=dict(norm_cfg=norm_cfg))
synthia_root = 'data/synthia/'
synthia_subset = 'train_subset2975_seed0.txt'
# SYNTHIA frames are 1280x760: scaled into the 2048x1024 range as GTA5's.
train_dataloader = dict(
    batch_size=3,
    sampler=dict(samples_per_domain=[1, 1, 1]),
    dataset=dict(
        datasets=_base_.train_dataloader.dataset.datasets + [
            dict(
                type='SynthiaDataset',
                data_root=synthia_root,
                ann_file=synthia_subset,
                data_prefix=dict(img_path='RGB', seg_map_path='GT/LABELS'),
                pipeline=_base_.gta5_train_pipeline)
        ],
        domain_names=['cityscapes', 'gta5', 'synthia']))
val_evaluator = dict(class_subsets='SynthiaDataset')
test_evaluator = val_evaluator
