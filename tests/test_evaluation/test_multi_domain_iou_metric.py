"""MultiDomainIoUMetric against IoU computed by hand on tiny label maps."""
import math

import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.registry import METRICS
from mmseg.structures import SegDataSample

CLASSES = ('road', 'sky', 'car')
# (domain, prediction, ground truth); 255 is ignored
SAMPLES = [
    ('cityscapes', [[0, 0, 1], [2, 2, 1]], [[0, 1, 1], [2, 0, 255]]),
    ('gta5', [[1, 1, 1], [0, 0, 0]], [[1, 1, 0], [0, 0, 255]]),
    ('cityscapes', [[2, 0, 0], [1, 1, 1]], [[2, 2, 0], [1, 1, 1]]),
]


def _sample(domain, pred, gt, **meta):
    sample = SegDataSample(metainfo=dict(img_path='x.png', **meta))
    if domain is not None:
        sample.set_metainfo(dict(domain_name=domain))
    sample.pred_sem_seg = PixelData(data=torch.tensor([pred]))
    sample.gt_sem_seg = PixelData(data=torch.tensor([gt]))
    return sample.to_dict()


def _by_hand(pairs):
    """Per-class IoU, Acc and aAcc in percent, from pixel counts."""
    pred = np.concatenate([np.ravel(p) for p, _ in pairs])
    gt = np.concatenate([np.ravel(g) for _, g in pairs])
    pred, gt = pred[gt != 255], gt[gt != 255]
    iou, acc = [], []
    for c in range(len(CLASSES)):
        inter = np.sum((pred == c) & (gt == c))
        union = np.sum((pred == c) | (gt == c))
        iou.append(100 * inter / union if union else math.nan)
        acc.append(100 * inter / np.sum(gt == c) if np.sum(gt == c) else
                   math.nan)
    return iou, acc, 100 * np.mean(pred == gt)


def _evaluate(samples, **kwargs):
    metric = METRICS.build(dict(type='MultiDomainIoUMetric', **kwargs))
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, [_sample(*s) for s in samples])
    return metric.evaluate(len(samples))


def test_per_domain_per_class_values_match_a_hand_computation():
    metrics = _evaluate(SAMPLES, iou_metrics=['mIoU'])
    for domain in ('cityscapes', 'gta5'):
        pairs = [(p, g) for d, p, g in SAMPLES if d == domain]
        iou, acc, a_acc = _by_hand(pairs)
        for c, name in enumerate(CLASSES):
            np.testing.assert_allclose(metrics[f'{domain}/IoU.{name}'],
                                       round(iou[c], 2))
            np.testing.assert_allclose(metrics[f'{domain}/Acc.{name}'],
                                       round(acc[c], 2))
        np.testing.assert_allclose(metrics[f'{domain}/aAcc'], round(a_acc, 2))
        np.testing.assert_allclose(metrics[f'{domain}/mIoU'],
                                   round(np.nanmean(iou), 2))
        np.testing.assert_allclose(metrics[f'{domain}/mAcc'],
                                   round(np.nanmean(acc), 2))
    assert math.isnan(metrics['gta5/IoU.car'])  # car in neither map
    assert len(metrics) == 2 * (3 + 2 * len(CLASSES))
    assert all(isinstance(v, float) for v in metrics.values())


def test_dice_and_unnamed_domains():
    samples = [(None, [[0, 1]], [[0, 0]]), ('gta5', [[2, 2]], [[2, 1]])]
    metric = METRICS.build(
        dict(type='MultiDomainIoUMetric', iou_metrics=['mDice'],
             nan_to_num=-1))
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, [_sample(*samples[0], domain_idx=1),
                        _sample(*samples[1])])
    metrics = metric.evaluate(2)
    # domain 1 without a name: 'domain1'; Dice = 2|P&G| / (|P| + |G|)
    assert metrics['domain1/Dice.road'] == round(100 * 2 * 1 / (1 + 2), 2)
    assert metrics['domain1/Dice.sky'] == 0.0
    assert metrics['domain1/Dice.car'] == -100  # nan_to_num, scaled as mmseg
    assert metrics['gta5/Dice.car'] == round(100 * 2 * 1 / (2 + 1), 2)
    assert 'domain1/mDice' in metrics and 'gta5/Acc.sky' in metrics
