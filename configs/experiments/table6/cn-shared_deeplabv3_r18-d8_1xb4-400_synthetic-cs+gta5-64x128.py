# Algorithm 1 without banks (the setting the paper's BN rows describe): each
# domain of a batch is normalized with its own batch statistics, but both
# domains share one set of affine parameters and one set of running
# statistics, which evaluation uses. The demo CN config with its norm layers
# replaced by the ablation SharedStateConsistentNorm.
_base_ = [
    '../../demo/cn_deeplabv3_r18-d8_1xb4-400_synthetic-cs+gta5-64x128.py'
]
norm_cfg = dict(
    type='SharedStateConsistentNorm',
    num_domains=2,
    norm_cfg=dict(type='SyncBN'),
    requires_grad=True)
model = dict(
    backbone=dict(norm_cfg=norm_cfg),
    decode_head=dict(norm_cfg=norm_cfg),
    auxiliary_head=dict(norm_cfg=norm_cfg))
