# Calibration experiment, online adaptation: the CN config tested on the real
# (Cityscapes-like) val set alone, as one stream in file order, for
# `tools/test.py --adapt-bank 0 --from-bank 1` (bank 0 starts from the
# rendered bank 1 and follows the stream; set the stream's batch size with
# --cfg-options test_dataloader.batch_size=B).
_base_ = ['./cn_deeplabv3_r18-d8_1xb4-400_synthetic-gta5-64x128.py']
_cityscapes_val = _base_.val_dataloader.dataset.datasets[0]
test_dataloader = dict(
    dataset=dict(
        datasets=[_cityscapes_val],
        domain_names=['cityscapes_online'],
        domain_indices=[0]))
