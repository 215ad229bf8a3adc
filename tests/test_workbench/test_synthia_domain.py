"""The generator's SYNTHIA-layout domain, read back by the real converter.

The reference is the frame's own layout: its Cityscapes label ids mapped to
train ids by the Cityscapes table, with the classes RAND_CITYSCAPES lacks
(terrain, truck, train) ignored; the generated file goes the other way,
through SYNTHIA ids and the SYNTHIA converter.
"""
import cv2
import numpy as np
from PIL import Image

from cn_seg.openmmlab.datasets.cityscapes_labels import (
    CLASSES, label_id_to_train_id_lut)
from cn_seg_workbench.synthetic import (make_synthetic_domains,
                                        prepare_synthetic_domains)
from cn_seg_workbench.synthetic.domains import SYNTHIA_SIZE, _frame


def test_synthia_layout_converts_to_the_layouts_train_ids(tmp_path):
    roots = prepare_synthetic_domains(
        str(tmp_path), seed=3, num_train=4, num_val=2, domains=['synthia'])
    assert list(roots) == ['synthia']
    root = tmp_path / 'synthia'
    assert (root /
            'train.txt').read_text().split() == [f'{i:07d}' for i in range(4)]
    lut = label_id_to_train_id_lut()
    absent = [CLASSES.index(c) for c in ('terrain', 'truck', 'train')]
    for i in range(4):
        raw = cv2.imread(
            str(root / 'GT' / 'LABELS' / f'{i:07d}.png'), cv2.IMREAD_UNCHANGED)
        assert raw.dtype == np.uint16 and raw.shape == (95, 160, 3)
        frame = np.asarray(Image.open(root / 'RGB' / f'{i:07d}.png'))
        assert frame.shape == (95, 160, 3)
        expected = lut[_frame(3, 2, 'train', i, SYNTHIA_SIZE, False)[2]]
        expected[np.isin(expected, absent)] = 255
        converted = np.asarray(
            Image.open(root / 'GT' / 'LABELS' / f'{i:07d}_labelTrainIds.png'))
        np.testing.assert_array_equal(converted, expected)
        assert len(np.unique(converted)) > 3


def test_default_domains_stay_cityscapes_and_gta5(tmp_path):
    assert list(make_synthetic_domains(str(tmp_path), num_train=3,
                                       num_val=0)) == ['cityscapes', 'gta5']
    assert not (tmp_path / 'synthia').exists()
