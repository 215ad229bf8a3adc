# Table 6, row 1: DeepLabV3 (ResNetV1c-50, output stride 8, ASPP head, FCN
# auxiliary head with loss weight 0.4), BN, trained on Cityscapes only.
# mmseg's DeepLabV3 recipe (SGD lr 0.01, poly LR power 0.9, 80k iterations,
# 4 GPUs x 2 images of 512x1024, SyncBN), evaluated with per-class IoU.
_base_ = [
    'mmseg::_base_/models/deeplabv3_r50-d8.py',
    '../_base_/datasets/cityscapes_per_domain.py', '../_base_/cn_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py'
]
crop_size = (512, 1024)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)
default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook'))
