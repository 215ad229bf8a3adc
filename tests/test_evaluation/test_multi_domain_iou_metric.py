"""MultiDomainIoUMetric against IoU computed by hand on tiny label maps."""
import math

import numpy as np
import pytest
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
        acc.append(100 * inter /
                   np.sum(gt == c) if np.sum(gt == c) else math.nan)
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
    # 2 domains x (aAcc, mIoU, mAcc, IoU and Acc per class) + mean/ x 3
    assert len(metrics) == 2 * (3 + 2 * len(CLASSES)) + 3
    assert all(isinstance(v, float) for v in metrics.values())


def test_dice_and_unnamed_domains():
    samples = [(None, [[0, 1]], [[0, 0]]), ('gta5', [[2, 2]], [[2, 1]])]
    metric = METRICS.build(
        dict(
            type='MultiDomainIoUMetric', iou_metrics=['mDice'], nan_to_num=-1))
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({},
                   [_sample(*samples[0], domain_idx=1),
                    _sample(*samples[1])])
    metrics = metric.evaluate(2)
    # domain 1 without a name: 'domain1'; Dice = 2|P&G| / (|P| + |G|)
    assert metrics['domain1/Dice.road'] == round(100 * 2 * 1 / (1 + 2), 2)
    assert metrics['domain1/Dice.sky'] == 0.0
    assert metrics['domain1/Dice.car'] == -100  # nan_to_num, scaled as mmseg
    assert metrics['gta5/Dice.car'] == round(100 * 2 * 1 / (2 + 1), 2)
    assert 'domain1/mDice' in metrics and 'gta5/Acc.sky' in metrics


# Both sides round to two decimals; the metric's ratios are float32 (mmseg's
# histograms), the hand computation's float64, so a value on a .xx5 boundary
# could round either way: 0.01 bounds that.
ROUNDING = 0.01 + 1e-9


def _domain_summaries(samples, subset):
    """Per domain, mIoU, mAcc, aAcc and the subset's mIoU, mAcc by hand."""
    out = {}
    for domain in dict.fromkeys(d for d, _, _ in samples):
        iou, acc, a_acc = _by_hand([(p, g) for d, p, g in samples
                                    if d == domain])
        index = [CLASSES.index(c) for c in subset]
        out[domain] = dict(
            mIoU=np.nanmean(iou),
            mAcc=np.nanmean(acc),
            aAcc=a_acc,
            subset_mIoU=np.nanmean(np.take(iou, index)),
            subset_mAcc=np.nanmean(np.take(acc, index)))
    return out


def test_class_subsets_and_mean_over_domains_match_a_hand_computation():
    subset = ['road', 'car']
    metrics = _evaluate(
        SAMPLES, iou_metrics=['mIoU'], class_subsets=dict(two=subset))
    by_hand = _domain_summaries(SAMPLES, subset)
    for domain, summary in by_hand.items():
        np.testing.assert_allclose(
            metrics[f'{domain}/mIoU.two'],
            summary['subset_mIoU'],
            atol=ROUNDING)
        np.testing.assert_allclose(
            metrics[f'{domain}/mAcc.two'],
            summary['subset_mAcc'],
            atol=ROUNDING)
        assert f'{domain}/aAcc.two' not in metrics
    # gta5 has no car at all: its subset mean is road's value alone.
    assert metrics['gta5/mIoU.two'] == metrics['gta5/IoU.road']
    for key in ('mIoU', 'mAcc', 'aAcc', 'subset_mIoU', 'subset_mAcc'):
        name = key.replace('subset_', '') + ('.two' if 'subset' in key else '')
        np.testing.assert_allclose(
            metrics[f'mean/{name}'],
            np.mean([s[key] for s in by_hand.values()]),
            atol=ROUNDING)
    assert not any(k.startswith('mean/IoU.') for k in metrics)


def test_mean_over_named_domains_or_none():
    samples = SAMPLES + [('mapillary', [[1, 2]], [[1, 1]])]
    named = _evaluate(samples, mean_over_domains=['cityscapes', 'mapillary'])
    by_hand = _domain_summaries(samples, CLASSES)
    np.testing.assert_allclose(
        named['mean/mIoU'],
        (by_hand['cityscapes']['mIoU'] + by_hand['mapillary']['mIoU']) / 2,
        atol=ROUNDING)
    everything = _evaluate(samples)
    np.testing.assert_allclose(
        everything['mean/mIoU'],
        np.mean([s['mIoU'] for s in by_hand.values()]),
        atol=ROUNDING)
    assert named['mean/mIoU'] != everything['mean/mIoU']
    off = _evaluate(samples, mean_over_domains=False)
    assert not any(k.startswith('mean/') for k in off)
    assert off['gta5/mIoU'] == everything['gta5/mIoU']


def test_all_absent_subset_is_nan_and_so_is_its_mean():
    metrics = _evaluate(SAMPLES, class_subsets=dict(cars=['car']))
    assert math.isnan(metrics['gta5/mIoU.cars'])
    assert not math.isnan(metrics['cityscapes/mIoU.cars'])
    assert math.isnan(metrics['mean/mIoU.cars'])


def test_mdice_subset_and_nan_to_num_follow_mmseg():
    metrics = _evaluate(
        SAMPLES,
        iou_metrics=['mDice'],
        nan_to_num=0,
        class_subsets=dict(two=['sky', 'car']))
    # gta5: car absent -> 0 by nan_to_num, counted in the mean as mmseg's
    # mDice counts it.
    assert metrics['gta5/Dice.car'] == 0
    np.testing.assert_allclose(
        metrics['gta5/mDice.two'], metrics['gta5/Dice.sky'] / 2, atol=ROUNDING)
    np.testing.assert_allclose(
        metrics['gta5/mDice'],
        np.mean([metrics[f'gta5/Dice.{c}'] for c in CLASSES]),
        atol=ROUNDING)


@pytest.mark.parametrize('kwargs, match', [
    (dict(mean_over_domains='cityscapes'), 'list of distinct domain names'),
    (dict(mean_over_domains=[]), 'list of distinct domain names'),
    (dict(mean_over_domains=['a', 'a']), 'list of distinct domain names'),
    (dict(class_subsets=['road']), 'must be a dict'),
    (dict(class_subsets=dict(two=[])), r"class_subsets\['two'\]"),
    (dict(class_subsets=dict(two='road')), r"class_subsets\['two'\]"),
    (dict(class_subsets={'a/b': ['road']}), "'a/b'"),
    (dict(class_subsets=dict(two=['road', 'road'])), "'road'"),
])
def test_malformed_arguments_are_refused_at_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        METRICS.build(dict(type='MultiDomainIoUMetric', **kwargs))


def test_unknown_class_is_refused_when_the_classes_are_set():
    metric = METRICS.build(
        dict(
            type='MultiDomainIoUMetric',
            class_subsets=dict(two=['road', 'cat'])))
    with pytest.raises(ValueError, match=r"\['cat'\], not classes"):
        metric.dataset_meta = dict(classes=CLASSES)


def test_unknown_or_clashing_domain_is_refused_at_evaluation():
    with pytest.raises(
            ValueError,
            match=r"names \['mapillary'\].*"
            r"evaluated \['cityscapes', 'gta5'\]"):
        _evaluate(SAMPLES, mean_over_domains=['cityscapes', 'mapillary'])
    clash = [('mean', [[0]], [[0]])]
    with pytest.raises(ValueError, match="named 'mean'"):
        _evaluate(clash)
    assert 'mean/mIoU' in _evaluate(clash, mean_over_domains=False)
