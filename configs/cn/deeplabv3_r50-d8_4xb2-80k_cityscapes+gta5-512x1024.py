# Table 6, row 2: the Cityscapes-only config trained on Cityscapes + the GTA5
# subset (one image of each domain per GPU), one shared BN over both domains.
_base_ = [
    'mmseg::_base_/models/deeplabv3_r50-d8.py',
    '../_base_/datasets/cityscapes+gta5-512x1024.py',
    '../_base_/cn_runtime.py', 'mmseg::_base_/schedules/schedule_80k.py'
]
crop_size = (512, 1024)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)
default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook'))
