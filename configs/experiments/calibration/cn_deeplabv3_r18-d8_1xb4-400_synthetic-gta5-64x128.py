# Calibration experiment, CN: its BN sibling with the demo's CN (2 banks: 0
# real, 1 rendered), trained with labels on the rendered (GTA5-like) domain
# only, every sample routed to bank 1; bank 0 is never trained. Validated on
# the real (Cityscapes-like) val set with bank 1 (as trained) and with bank 0
# (after tools/calibrate_bank.py --bank 0 --from-bank 1 fills it from the real
# domain's unlabeled training frames), and on the rendered val set with bank 1.
_base_ = ['./deeplabv3_r18-d8_1xb4-400_synthetic-gta5-64x128.py']
norm_cfg = dict(
    type='CN', num_domains=2, norm_cfg=dict(type='SyncBN'), requires_grad=True)
model = dict(
    backbone=dict(norm_cfg=norm_cfg),
    decode_head=dict(norm_cfg=norm_cfg),
    auxiliary_head=dict(norm_cfg=norm_cfg))
train_dataloader = dict(dataset=dict(domain_indices=[1]))
_cityscapes_val, _gta5_val = _base_.val_dataloader.dataset.datasets
val_dataloader = dict(
    dataset=dict(
        datasets=[_cityscapes_val, _cityscapes_val, _gta5_val],
        domain_names=['cityscapes_bank1', 'cityscapes_bank0', 'gta5_bank1'],
        domain_indices=[1, 0, 1]))
test_dataloader = val_dataloader
