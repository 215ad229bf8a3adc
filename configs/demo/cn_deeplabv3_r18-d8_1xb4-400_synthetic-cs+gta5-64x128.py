# Demo, CN: its BN sibling with Consistent Normalization (one bank per domain:
# 0 synthetic Cityscapes, 1 synthetic GTA5). SyncBN inside CN synchronizes
# per-domain statistics when trained with tools/dist_train.sh and is plain
# per-domain BN in a single process.
_base_ = ['./deeplabv3_r18-d8_1xb4-400_synthetic-cs+gta5-64x128.py']
norm_cfg = dict(
    type='CN', num_domains=2, norm_cfg=dict(type='SyncBN'), requires_grad=True)
model = dict(
    backbone=dict(norm_cfg=norm_cfg),
    decode_head=dict(norm_cfg=norm_cfg),
    auxiliary_head=dict(norm_cfg=norm_cfg))
