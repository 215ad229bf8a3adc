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
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

from .common import (LayoutError, base_parser, check_layout, check_pairs,
                     finish, run_cli)
from .outputs import write_list
from .pairs import PairResult

TRAIN_ID_SUFFIX = '_labelTrainIds.png'


def _names(folder: str) -> List[str]:
    """The PNGs of ``folder`` without the converter's own files.

    Its outputs (``*_labelTrainIds.png``) and temporary files (also those of
    older versions, ``*_labelTrainIds.png.tmp.png``) are not pairs.
    """
    return sorted(
        f[:-4] for f in os.listdir(folder) if f.endswith('.png')
        and TRAIN_ID_SUFFIX[:-4] not in f and not f.startswith('.'))


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


def find_pair(root: str, name: str) -> PairResult:
    """Frame ``name`` and its label, or what is missing."""
    pair = PairResult(
        name, frame=osp.join('images', name + '.png'),
        source=osp.join('labels', name + '.png'),
        label=osp.join('labels', name + TRAIN_ID_SUFFIX))
    if not osp.lexists(osp.join(root, pair.frame)):
        pair.fault = f'no frame {pair.frame}'
    elif not osp.lexists(osp.join(root, pair.source)):
        pair.fault = f'no label {pair.source}'
    return pair


def convert(args: argparse.Namespace) -> str:
    """Run the conversion the command line asks for; return a summary."""
    root = args.data_root
    check_layout(root, ['images', 'labels'], 'GTA5')
    frames, labels = _names(osp.join(root, 'images')), _names(
        osp.join(root, 'labels'))
    if not frames:
        raise LayoutError(f'{osp.join(root, "images")} holds no PNG frames.')
    splits = read_splits(root, sorted(set(frames) | set(labels)))
    if args.subset is not None:
        splits = dict(train=splits['train'])
    names = list(dict.fromkeys(n for split in splits.values() for n in split))
    pairs = [find_pair(root, name) for name in names]
    if args.subset is None:
        results = check_pairs(root, pairs, args)
    else:
        # The draw is from the pairs that pass every check, so that the
        # subset has N usable pairs; only those N are written.
        checked = check_pairs(root, pairs, args, write=False)
        valid = {r.name: r for r in checked if r.fault is None}
        chosen = select_subset([n for n in splits['train'] if n in valid],
                               args.subset, args.seed)
        splits = {f'train_subset{args.subset}_seed{args.seed}': chosen}
        results = [r for r in checked if r.fault is not None] + check_pairs(
            root, [valid[n] for n in chosen], args)
    done = {r.name for r in results if r.fault is None}
    lists = {
        f'{split}.txt': write_list(root, f'{split}.txt',
                                   [n for n in split_names if n in done])
        for split, split_names in splits.items()
    }
    return finish(root, results, lists)


def select_subset(names: Sequence[str], size: int, seed: int) -> List[str]:
    """``size`` of ``names`` drawn with ``seed``, in the order of ``names``.

    Raises:
        LayoutError: If fewer than ``size`` valid pairs exist.
    """
    if size > len(names) or size <= 0:
        raise LayoutError(
            f'--subset {size} needs 1 to {len(names)} (the valid training '
            'pairs); choose a smaller subset.')
    chosen = set(np.random.default_rng(seed).choice(
        len(names), size, replace=False).tolist())
    return [n for i, n in enumerate(names) if i in chosen]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point of ``tools/dataset_converters/gta5.py``."""
    parser = base_parser(
        'Convert GTA5 labels to Cityscapes train ids, check every pair, and '
        'write file lists and per-class pixel counts.')
    parser.add_argument('--subset', type=int, default=None, metavar='N',
                        help='convert and list only N training pairs drawn '
                        'with --seed (e.g. 2975, the size of Cityscapes '
                        'train)')
    parser.add_argument('--seed', type=int, default=0, metavar='S',
                        help='seed of the --subset draw (default: 0)')
    return run_cli(convert, parser, argv)
