# Calibration experiment, BN: the demo's BN DeepLabV3-R18 trained with labels
# on the rendered (GTA5-like) domain only (4 crops per batch, the demo's 400
# iterations), evaluated on the real (Cityscapes-like) and the rendered val
# sets. tools/experiments/calibrate_unlabeled.py trains it and re-estimates its
# BN statistics on the real domain's unlabeled frames (AdaBN) with the 1-bank
# CN sibling (cn1_...adabn.py).
_base_ = ['../../demo/deeplabv3_r18-d8_1xb4-400_synthetic-cs+gta5-64x128.py']
_gta5_train = _base_.train_dataloader.dataset.datasets[1]
_cityscapes_val, _gta5_val = _base_.val_dataloader.dataset.datasets
train_dataloader = dict(
    _delete_=True,
    batch_size=4,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='MultiDomainDataset',
        datasets=[_gta5_train],
        domain_names=['gta5']))
val_dataloader = dict(
    dataset=dict(
        datasets=[_cityscapes_val, _gta5_val],
        domain_names=['cityscapes', 'gta5'],
        domain_indices=[0, 0]))
test_dataloader = val_dataloader
