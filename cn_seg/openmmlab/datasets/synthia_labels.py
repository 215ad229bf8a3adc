"""The SYNTHIA (RAND_CITYSCAPES) label table and its class subsets.

SYNTHIA (Ros et al., "The SYNTHIA Dataset", CVPR 2016) stores each label in
``GT/LABELS/*.png``, a 16-bit PNG whose first channel holds the class id
(the second the instance id). The ids follow the dataset's README; they map
to the 19 Cityscapes train ids as DAFormer's
``tools/convert_datasets/synthia.py`` maps them (cross-checked). Terrain,
truck and train have ids but no pixels in RAND_CITYSCAPES, so
synthetic-to-real papers report the mIoU over the other 16 classes, and over
13 (without wall, fence and pole).
"""
from typing import Dict, List, Tuple

#: ``(name, id)`` of every SYNTHIA class, as in its README.
LABELS: Tuple[Tuple[str, int],
              ...] = (('void', 0), ('sky', 1), ('building', 2), ('road', 3),
                      ('sidewalk', 4), ('fence', 5), ('vegetation', 6),
                      ('pole', 7), ('car', 8), ('traffic sign', 9),
                      ('pedestrian', 10), ('bicycle', 11), ('motorcycle', 12),
                      ('parking-slot', 13), ('road-work',
                                             14), ('traffic light', 15),
                      ('terrain', 16), ('rider', 17), ('truck', 18),
                      ('bus', 19), ('train', 20), ('wall', 21), ('lanemarking',
                                                                 22))

#: SYNTHIA id of each Cityscapes train id (road, sidewalk, ..., bicycle).
TRAIN_LABEL_IDS: Tuple[int, ...] = (3, 4, 2, 21, 5, 7, 15, 9, 6, 16, 1, 10, 17,
                                    8, 18, 19, 20, 12, 11)

#: The ids a SYNTHIA label may hold (0..22).
KNOWN_LABEL_IDS: Tuple[int, ...] = tuple(i for _, i in LABELS)

#: The class subsets of the SYNTHIA -> Cityscapes benchmark (mmseg names).
CLASS_SUBSETS: Dict[str, List[str]] = dict(
    synthia16=[
        'road', 'sidewalk', 'building', 'wall', 'fence', 'pole',
        'traffic light', 'traffic sign', 'vegetation', 'sky', 'person',
        'rider', 'car', 'bus', 'motorcycle', 'bicycle'
    ],
    synthia13=[
        'road', 'sidewalk', 'building', 'traffic light', 'traffic sign',
        'vegetation', 'sky', 'person', 'rider', 'car', 'bus', 'motorcycle',
        'bicycle'
    ])
