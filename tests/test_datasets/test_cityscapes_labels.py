"""The label table against the ids listed in the dataset documentation."""
import numpy as np

from cn_seg.openmmlab.datasets.cityscapes_labels import (
    CLASSES, KNOWN_LABEL_IDS, NAME_TO_LABEL_ID, PALETTE, TRAIN_LABEL_IDS,
    label_id_palette, label_id_to_train_id_lut)
from .synthetic_data import DOCUMENTED_TRAIN_LABEL_IDS as DOCUMENTED


def test_lut_maps_the_documented_ids_and_ignores_the_rest():
    lut = label_id_to_train_id_lut()
    expected = np.full(256, 255)
    for train_id, label_id in enumerate(DOCUMENTED):
        expected[label_id] = train_id
    np.testing.assert_array_equal(lut, expected)
    assert lut.dtype == np.uint8


def test_names_of_the_classes_have_their_train_label_ids():
    assert list(TRAIN_LABEL_IDS) == DOCUMENTED
    assert [NAME_TO_LABEL_ID[c] for c in CLASSES] == DOCUMENTED
    assert len(PALETTE) == len(CLASSES) == 19


def test_label_id_palette_colours_the_classes():
    palette = np.array(label_id_palette()).reshape(256, 3)
    np.testing.assert_array_equal(palette[DOCUMENTED], np.array(PALETTE))
    assert not palette[[0, 1, 9, 34]].any()


def test_classes_and_palette_are_those_of_mmseg_cityscapes():
    # Written out so that the converters need no mmseg; mmseg is the truth.
    from mmseg.datasets import CityscapesDataset
    assert CLASSES == tuple(CityscapesDataset.METAINFO['classes'])
    assert [list(c) for c in PALETTE] == \
        [list(c) for c in CityscapesDataset.METAINFO['palette']]


def test_known_label_ids_are_the_table_s():
    assert list(KNOWN_LABEL_IDS) == list(range(34))
