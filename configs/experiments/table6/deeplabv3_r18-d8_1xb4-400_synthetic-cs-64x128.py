# Table 6 row 1 in miniature: BN trained on the synthetic real domain only.
# The demo BN config with the rendered (GTA5-like) domain removed from the
# training set; the same 4 crops per batch, schedule and evaluation.
_base_ = ['../../demo/deeplabv3_r18-d8_1xb4-400_synthetic-cs+gta5-64x128.py']
train_dataloader = dict(
    sampler=dict(samples_per_domain=[4]),
    dataset=dict(
        datasets=[_base_.train_dataloader.dataset.datasets[0]],
        domain_names=['cityscapes']))
