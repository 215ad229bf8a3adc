"""Convert SYNTHIA (RAND_CITYSCAPES) labels to the 19 Cityscapes train ids.

Layout (official download): ``DATA_ROOT/RGB/0000000.png`` and
``DATA_ROOT/GT/LABELS/0000000.png``, 16-bit PNGs whose first channel holds
the SYNTHIA class id (:mod:`cn_seg.openmmlab.datasets.synthia_labels`). Writes
``GT/LABELS/0000000_labelTrainIds.png``, ``train.txt`` (every valid pair:
SYNTHIA has no official split), ``class_pixel_counts.json``,
``faulty_pairs.txt`` and ``label_warnings.txt``. Faulty pairs (a frame
without label or the reverse, a file that does not decode, a label whose
size differs from its frame, one that mostly holds ids outside the table)
are reported by name and left out, as by the GTA5 converter (:mod:`.pairs`).
``--subset N --seed S`` as there (:mod:`.flat`).
"""
import argparse
import os.path as osp
from typing import Optional, Sequence

import cv2
import numpy as np

from ..synthia_labels import KNOWN_LABEL_IDS, TRAIN_LABEL_IDS
from .common import LayoutError, base_parser, check_layout, run_cli
from .flat import add_subset_args, convert_splits, png_names
from .pairs import LabelTable

FRAMES, LABELS = 'RGB', osp.join('GT', 'LABELS')


def read_synthia_ids(path: str) -> np.ndarray:
    """The class ids in the first channel of a SYNTHIA label PNG.

    OpenCV reads 16-bit PNGs unchanged, channels in BGR order, so the first
    (red) channel is the last of OpenCV's; a single-channel PNG is taken as
    it is. Ids above 255 (not SYNTHIA ids) become 255, outside the table.

    Raises:
        ValueError: If OpenCV cannot decode the file.
    """
    label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if label is None:
        raise ValueError(f'OpenCV cannot decode {path}')
    if label.ndim == 3:
        label = label[:, :, 2]
    return np.minimum(label, 255).astype(np.uint8)


#: SYNTHIA class ids to Cityscapes train ids.
SYNTHIA_TABLE = LabelTable('SYNTHIA', TRAIN_LABEL_IDS, KNOWN_LABEL_IDS,
                           read_synthia_ids)


def convert(args: argparse.Namespace) -> str:
    """Run the conversion the command line asks for; return a summary."""
    root = args.data_root
    check_layout(root, [FRAMES, LABELS], 'SYNTHIA (RAND_CITYSCAPES)')
    frames = png_names(osp.join(root, FRAMES))
    if not frames:
        raise LayoutError(f'{osp.join(root, FRAMES)} holds no PNG frames.')
    names = sorted(set(frames) | set(png_names(osp.join(root, LABELS))))
    return convert_splits(root, dict(train=names), [FRAMES, LABELS], args,
                          SYNTHIA_TABLE)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point of ``tools/dataset_converters/synthia.py``."""
    parser = base_parser(
        'Convert SYNTHIA (RAND_CITYSCAPES) labels to Cityscapes train ids, '
        'check every pair, and write file lists and per-class pixel counts.')
    add_subset_args(parser)
    return run_cli(convert, parser, argv)
