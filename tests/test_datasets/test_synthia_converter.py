"""The SYNTHIA converter on hand-made RAND_CITYSCAPES-layout files.

The labels are 16-bit PNGs with the class id in the first (red) channel and
an instance id in the second, as in the dataset; the expected train ids come
from the dataset's README table written out here by class name, and
Cityscapes' class order.
"""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from cn_seg.openmmlab.datasets.converters import synthia
from ..processes import run_tool
from .test_dataset_converters import _lines

# SYNTHIA README: class name -> id (RAND_CITYSCAPES).
README = {
    'void': 0,
    'sky': 1,
    'building': 2,
    'road': 3,
    'sidewalk': 4,
    'fence': 5,
    'vegetation': 6,
    'pole': 7,
    'car': 8,
    'traffic sign': 9,
    'pedestrian': 10,
    'bicycle': 11,
    'motorcycle': 12,
    'parking-slot': 13,
    'road-work': 14,
    'traffic light': 15,
    'terrain': 16,
    'rider': 17,
    'truck': 18,
    'bus': 19,
    'train': 20,
    'wall': 21,
    'lanemarking': 22
}
CITYSCAPES = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole',
              'traffic light', 'traffic sign', 'vegetation', 'terrain', 'sky',
              'person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle',
              'bicycle')
SIZE = (30, 40)  # height, width


def expected_train_ids(ids):
    out = np.full(ids.shape, 255, np.uint8)
    for train_id, name in enumerate(CITYSCAPES):
        out[ids == README['pedestrian' if name == 'person' else name]] = \
            train_id
    return out


def write_label(path, class_ids, seed):
    """RGB order: class id, instance id, 0; written by OpenCV as BGR."""
    instance = np.random.default_rng(seed).integers(0, 3000, class_ids.shape)
    rgb = np.stack([class_ids, instance, np.zeros_like(class_ids)], -1)
    assert cv2.imwrite(str(path), rgb[:, :, ::-1].astype(np.uint16))


@pytest.fixture
def root(tmp_path):
    """Frames 0000000-0000005; 0000002 has no label, 0000003 a label of
    another size, 0000004 a label mostly outside the table."""
    root = tmp_path / 'synthia'
    (root / 'RGB').mkdir(parents=True)
    (root / 'GT' / 'LABELS').mkdir(parents=True)
    rng = np.random.default_rng(0)
    ids = {}
    for i in range(6):
        name = f'{i:07d}'
        frame = rng.integers(0, 256, SIZE + (3, ), dtype=np.uint8)
        Image.fromarray(frame).save(root / 'RGB' / f'{name}.png')
        if i == 2:
            continue
        shape = (SIZE[0], SIZE[1] + 2) if i == 3 else SIZE
        ids[name] = rng.integers(0, 23, shape)
        if i == 4:
            ids[name][:, 5:] = 300
        write_label(root / 'GT' / 'LABELS' / f'{name}.png', ids[name], i)
    return root, ids


def test_converts_the_first_channel_and_reports_faulty_pairs(root, capsys):
    root, ids = root
    assert synthia.main([str(root), '--nproc', '2']) == 0
    err = capsys.readouterr().err
    assert '0000002: no label GT/LABELS/0000002.png' in err
    assert '0000003: label GT/LABELS/0000003.png is 42x30 but its frame ' \
        'RGB/0000003.png is 40x30' in err
    assert '0000004: label GT/LABELS/0000004.png: 87.5% of its pixels hold ' \
        'ids outside the SYNTHIA table (255; expected 0..22)' in err
    assert _lines(root / 'train.txt') == ['0000000', '0000001', '0000005']
    counts = json.loads((root / 'class_pixel_counts.json').read_text())
    assert counts['classes'] == list(CITYSCAPES)
    assert sorted(counts['counts']) == [
        f'GT/LABELS/{n}_labelTrainIds.png'
        for n in ('0000000', '0000001', '0000005')
    ]
    for name in ('0000000', '0000001', '0000005'):
        label = f'GT/LABELS/{name}_labelTrainIds.png'
        converted = np.asarray(Image.open(root / label))
        expected = expected_train_ids(ids[name])
        np.testing.assert_array_equal(converted, expected)
        assert counts['counts'][label] == [
            int((expected == c).sum()) for c in range(19)
        ]


def test_subset_is_reproducible(root):
    root, _ = root
    assert synthia.main([str(root), '--subset', '2', '--seed', '1']) == 0
    first = _lines(root / 'train_subset2_seed1.txt')
    assert len(first) == 2 and set(first) < {'0000000', '0000001', '0000005'}
    assert synthia.main([str(root), '--subset', '2', '--seed', '1']) == 0
    assert _lines(root / 'train_subset2_seed1.txt') == first


def test_bad_layout_exits_2(tmp_path, capsys, monkeypatch):
    (tmp_path / 'RGB').mkdir()
    assert run_tool('dataset_converters/synthia.py', tmp_path) == 2
    assert f"missing {Path(tmp_path) / 'GT' / 'LABELS'}" in \
        capsys.readouterr().err
