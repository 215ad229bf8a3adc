# Demo, BN: DeepLabV3 with a narrow ResNetV1c-18 (16 base channels, output
# stride 8) trained from scratch on the synthetic Cityscapes + GTA5 domains
# (2 + 2 crops of 64x128 per batch), one shared BN over both domains.
# CPU-friendly: a few minutes on 2 cores. `make demo` trains it beside its CN
# sibling and compares them.
_base_ = [
    'mmseg::_base_/models/deeplabv3_r50-d8.py',
    '../_base_/datasets/synthetic_cityscapes+gta5.py',
    '../_base_/cn_runtime.py', 'mmseg::_base_/schedules/schedule_80k.py'
]
data_preprocessor = dict(size=_base_.crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(depth=18, stem_channels=16, base_channels=16),
    decode_head=dict(in_channels=128, channels=64, dilations=(1, 3, 6, 9)),
    auxiliary_head=dict(in_channels=64, channels=32))
max_iters = 400
optim_wrapper = dict(optimizer=dict(lr=0.02))
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=1e-4,
        power=0.9,
        begin=0,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(
        type='AtomicCheckpointHook', interval=max_iters // 4,
        max_keep_ckpts=2))
randomness = dict(seed=0)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
