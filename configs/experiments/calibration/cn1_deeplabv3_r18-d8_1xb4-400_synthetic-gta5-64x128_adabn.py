# Calibration experiment, AdaBN reference: the BN sibling with each BN as a
# 1-bank CN layer, the form tools/calibrate_bank.py takes. A BN checkpoint
# fills the one bank (the model is the BN model, as cn_seg.convert_cn(model,
# 1) makes it); `--bank 0` then re-estimates the BN statistics in place from
# the real domain's unlabeled frames, and testing this config gives the
# adapted model on both val sets.
_base_ = ['./deeplabv3_r18-d8_1xb4-400_synthetic-gta5-64x128.py']
norm_cfg = dict(
    type='CN', num_domains=1, norm_cfg=dict(type='SyncBN'), requires_grad=True)
model = dict(
    backbone=dict(norm_cfg=norm_cfg),
    decode_head=dict(norm_cfg=norm_cfg),
    auxiliary_head=dict(norm_cfg=norm_cfg))
