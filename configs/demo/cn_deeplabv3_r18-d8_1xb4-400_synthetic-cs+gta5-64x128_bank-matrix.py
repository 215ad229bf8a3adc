# The demo CN config, validated with every bank on every domain: the real
# (Cityscapes-like) and the rendered (GTA5-like) val sets, each with bank 0
# (real) and bank 1 (rendered). `cityscapes` and `gta5` use their own bank, as
# in the demo; `cityscapes_bank1` and `gta5_bank0` the other domain's bank.
_base_ = ['./cn_deeplabv3_r18-d8_1xb4-400_synthetic-cs+gta5-64x128.py']
val_dataloader = dict(
    dataset=dict(
        datasets=_base_.val_dataloader.dataset.datasets * 2,
        domain_names=['cityscapes', 'gta5', 'cityscapes_bank1', 'gta5_bank0'],
        domain_indices=[0, 1, 1, 0]))
test_dataloader = val_dataloader
