# Cityscapes as mmseg's `_base_/datasets/cityscapes.py` trains it, with the
# validation set wrapped as the domain 'cityscapes' so that cn_seg's
# MultiDomainIoUMetric returns per-class IoU (`cityscapes/IoU.road`, ...,
# `cityscapes/mIoU`) in the metrics: they reach the log, the JSON scalars and
# tools/compare_runs.py, not only the printed table.
_base_ = ['mmseg::_base_/datasets/cityscapes.py']
custom_imports = dict(imports=['cn_seg'], allow_failed_imports=False)

val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='MultiDomainDataset',
        datasets=[_base_.val_dataloader.dataset],
        domain_names=['cityscapes']))
test_dataloader = val_dataloader
val_evaluator = dict(type='MultiDomainIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
