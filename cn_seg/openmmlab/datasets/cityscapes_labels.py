"""The Cityscapes label table, shared by the Cityscapes and GTA5 converters.

Cityscapes annotations (and GTA5 labels, which reuse them) hold *label ids*
(0-33); training uses the 19 *train ids* of
:class:`mmseg.datasets.CityscapesDataset` and ignores everything else (255).
The table follows ``cityscapesscripts/helpers/labels.py`` (Cordts et al.,
"The Cityscapes Dataset for Semantic Urban Scene Understanding", CVPR 2016).
"""
from typing import Dict, Tuple

import numpy as np

#: Ignored train id.
IGNORE_INDEX = 255

# Written out rather than read from ``mmseg.datasets.CityscapesDataset`` so
# that the converters run without importing torch and mmseg; a test checks
# both against mmseg's ``METAINFO``.
#: The 19 evaluated classes (train ids 0..18), as mmseg names them.
CLASSES: Tuple[str,
               ...] = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole',
                       'traffic light', 'traffic sign', 'vegetation',
                       'terrain', 'sky', 'person', 'rider', 'car', 'truck',
                       'bus', 'train', 'motorcycle', 'bicycle')
#: Their colours, as mmseg's ``CityscapesDataset`` draws them.
PALETTE: Tuple[Tuple[int, int, int],
               ...] = ((128, 64, 128), (244, 35, 232), (70, 70, 70),
                       (102, 102, 156), (190, 153, 153), (153, 153, 153),
                       (250, 170, 30), (220, 220, 0), (107, 142, 35),
                       (152, 251, 152), (70, 130, 180), (220, 20, 60),
                       (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100),
                       (0, 80, 100), (0, 0, 230), (119, 11, 32))

#: ``(name, label id)`` of every Cityscapes label; the license plate (-1) is
#: not drawn into label images.
LABELS: Tuple[Tuple[str, int],
              ...] = (('unlabeled', 0), ('ego vehicle',
                                         1), ('rectification border', 2),
                      ('out of roi', 3), ('static', 4), ('dynamic', 5),
                      ('ground', 6), ('road', 7), ('sidewalk', 8),
                      ('parking', 9), ('rail track', 10), ('building', 11),
                      ('wall', 12), ('fence', 13), ('guard rail', 14),
                      ('bridge', 15), ('tunnel', 16), ('pole', 17),
                      ('polegroup', 18), ('traffic light',
                                          19), ('traffic sign', 20),
                      ('vegetation', 21), ('terrain',
                                           22), ('sky', 23), ('person', 24),
                      ('rider', 25), ('car', 26), ('truck', 27), ('bus', 28),
                      ('caravan', 29), ('trailer', 30), ('train', 31),
                      ('motorcycle', 32), ('bicycle', 33), ('license plate',
                                                            -1))

#: Label id of each train id: train id ``i`` is ``TRAIN_LABEL_IDS[i]``.
TRAIN_LABEL_IDS: Tuple[int, ...] = (7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23,
                                    24, 25, 26, 27, 28, 31, 32, 33)

NAME_TO_LABEL_ID: Dict[str, int] = dict(LABELS)

#: The label ids a label image may hold (0..33); any other value is unknown.
KNOWN_LABEL_IDS: Tuple[int,
                       ...] = tuple(sorted(i for _, i in LABELS if i >= 0))


def label_id_to_train_id_lut(
        train_label_ids: Tuple[int, ...] = TRAIN_LABEL_IDS) -> np.ndarray:
    """Return a 256-entry lookup table from label id to train id.

    Every label id that is not one of the 19 evaluated classes (and every
    value above 33) maps to :data:`IGNORE_INDEX`.

    Args:
        train_label_ids (tuple[int]): The label id of each train id.
            Default: Cityscapes' (:data:`TRAIN_LABEL_IDS`).

    Returns:
        np.ndarray: ``uint8`` array of shape (256,).
    """
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    lut[list(train_label_ids)] = np.arange(len(train_label_ids))
    return lut


def label_id_palette() -> list:
    """Return a flat 768-value PIL palette colouring label ids.

    Label ids of the 19 classes get their class colour, all others black, as
    in the colour-coded GTA5 label PNGs.

    Returns:
        list[int]: ``[r0, g0, b0, r1, ...]`` for the 256 palette entries.
    """
    colours = np.zeros((256, 3), dtype=np.uint8)
    colours[list(TRAIN_LABEL_IDS)] = np.array(PALETTE, dtype=np.uint8)
    return colours.reshape(-1).tolist()
