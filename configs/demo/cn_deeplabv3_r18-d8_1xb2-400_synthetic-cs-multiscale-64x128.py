# Transform-defined domains with CN: its BN sibling with one bank per view
# (0: the crop as it is, 1: rescaled to half size and padded). At half-size
# inputs (`cityscapes-0.5x`) it evaluates with bank 1, the paper's dynamic
# inference (Table 5); `cityscapes-0.5x-bank0` is the same input with bank 0;
# the `-pad` sets are the half-size frames padded like the training view.
_base_ = ['./deeplabv3_r18-d8_1xb2-400_synthetic-cs-multiscale-64x128.py']
norm_cfg = dict(
    type='CN', num_domains=2, norm_cfg=dict(type='SyncBN'), requires_grad=True)
model = dict(
    backbone=dict(norm_cfg=norm_cfg),
    decode_head=dict(norm_cfg=norm_cfg),
    auxiliary_head=dict(norm_cfg=norm_cfg))
