# Table 6, row 3: the Cityscapes + GTA5 config with Consistent Normalization:
# every norm layer keeps one bank of statistics and affine parameters per
# domain (0: Cityscapes, 1: GTA5), synchronized per domain across GPUs.
# Evaluation on Cityscapes val uses bank 0. Deploy with tools/cn2bn.py.
_base_ = ['./deeplabv3_r50-d8_4xb2-80k_cityscapes+gta5-512x1024.py']
norm_cfg = dict(
    type='CN', num_domains=2, norm_cfg=dict(type='SyncBN'), requires_grad=True)
model = dict(
    backbone=dict(norm_cfg=norm_cfg),
    decode_head=dict(norm_cfg=norm_cfg),
    auxiliary_head=dict(norm_cfg=norm_cfg))
