"""Convert GTA5 labels (Cityscapes label ids) to the 19 train ids.

Layout (official download): ``DATA_ROOT/images/00001.png``,
``DATA_ROOT/labels/00001.png`` (palette PNGs of label ids) and optionally
``DATA_ROOT/split.mat`` (``trainIds``/``valIds``/``testIds``). Writes
``labels/00001_labelTrainIds.png``, the file lists ``train.txt``, ``val.txt``,
``test.txt`` (the split's valid pairs; without ``split.mat`` ``train.txt``
lists every valid pair), ``class_pixel_counts.json``, ``faulty_pairs.txt``
and ``label_warnings.txt``. A frame without label, a label without frame, a
frame or label that does not decode (truncated, not an image, not
readable), a label whose size differs from its frame, or one that is mostly
not label ids is reported by name and excluded from every list (it is never
converted or trained on); the conversion goes on (:mod:`.pairs`).

With ``--subset N --seed S`` it draws N of the valid training pairs with
``numpy.random.default_rng(S)``, converts only those and writes
``train_subset{N}_seed{S}.txt``: the same N frames for the same seed and data.
"""
import argparse
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

from .common import LayoutError, base_parser, check_layout, run_cli
from .flat import add_subset_args, convert_splits, png_names, select_subset

__all__ = ['convert', 'read_splits', 'select_subset', 'main']


def read_splits(root: str, names: Sequence[str]) -> Dict[str, List[str]]:
    """Split lists from ``split.mat`` (1-based ids), else all into train."""
    path = osp.join(root, 'split.mat')
    if not osp.isfile(path):
        return dict(train=list(names))
    from scipy.io import loadmat
    mat = loadmat(path)
    splits = {}
    for split in ('train', 'val', 'test'):
        if f'{split}Ids' in mat:
            ids = np.asarray(mat[f'{split}Ids']).reshape(-1)
            splits[split] = [f'{int(i):05d}' for i in sorted(ids)]
    if 'train' not in splits:
        raise LayoutError(f'{path} has no trainIds; remove it to use all '
                          'pairs for training, or use the official file.')
    return splits


def convert(args: argparse.Namespace) -> str:
    """Run the conversion the command line asks for; return a summary."""
    root = args.data_root
    check_layout(root, ['images', 'labels'], 'GTA5')
    frames = png_names(osp.join(root, 'images'))
    labels = png_names(osp.join(root, 'labels'))
    if not frames:
        raise LayoutError(f'{osp.join(root, "images")} holds no PNG frames.')
    splits = read_splits(root, sorted(set(frames) | set(labels)))
    return convert_splits(root, splits, ['images', 'labels'], args)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point of ``tools/dataset_converters/gta5.py``."""
    parser = base_parser(
        'Convert GTA5 labels to Cityscapes train ids, check every pair, and '
        'write file lists and per-class pixel counts.')
    add_subset_args(parser)
    return run_cli(convert, parser, argv)
