"""What the GTA5 and SYNTHIA converters share: a folder of frames, a folder
of labels with the same names, split lists, and ``--subset N --seed S``.

With ``--subset N --seed S`` N of the valid training pairs are drawn with
``numpy.random.default_rng(S)``, only those are converted, and the list is
``train_subset{N}_seed{S}.txt``: the same N frames for the same seed and
data.
"""
import argparse
import os
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np

from .common import LayoutError, check_pairs, finish
from .outputs import write_list
from .pairs import CITYSCAPES_TABLE, LabelTable, PairResult

#: The suffix of the converted labels, next to their source.
TRAIN_ID_SUFFIX = '_labelTrainIds.png'


def png_names(folder: str) -> List[str]:
    """The PNGs of ``folder`` (without ``.png``), not the converter's own.

    Its outputs (``*_labelTrainIds.png``) and temporary files (also those of
    older versions, ``*_labelTrainIds.png.tmp.png``) are not pairs.
    """
    return sorted(f[:-4] for f in os.listdir(folder) if f.endswith('.png')
                  and TRAIN_ID_SUFFIX[:-4] not in f and not f.startswith('.'))


def select_subset(names: Sequence[str], size: int, seed: int) -> List[str]:
    """``size`` of ``names`` drawn with ``seed``, in the order of ``names``.

    Raises:
        LayoutError: If fewer than ``size`` valid pairs exist.
    """
    if size > len(names) or size <= 0:
        raise LayoutError(
            f'--subset {size} needs 1 to {len(names)} (the valid training '
            'pairs); choose a smaller subset.')
    chosen = set(
        np.random.default_rng(seed).choice(len(names), size,
                                           replace=False).tolist())
    return [n for i, n in enumerate(names) if i in chosen]


def find_pair(root: str, name: str, frames: str, labels: str) -> PairResult:
    """Frame ``frames/name.png`` and its label in ``labels``, or what is
    missing."""
    pair = PairResult(
        name,
        frame=osp.join(frames, name + '.png'),
        source=osp.join(labels, name + '.png'),
        label=osp.join(labels, name + TRAIN_ID_SUFFIX))
    if not osp.lexists(osp.join(root, pair.frame)):
        pair.fault = f'no frame {pair.frame}'
    elif not osp.lexists(osp.join(root, pair.source)):
        pair.fault = f'no label {pair.source}'
    return pair


def convert_splits(root: str,
                   splits: Dict[str, List[str]],
                   folders: Sequence[str],
                   args: argparse.Namespace,
                   table: LabelTable = CITYSCAPES_TABLE) -> str:
    """Check and convert the pairs of ``splits``; write the lists.

    Args:
        root (str): The data root.
        splits (dict[str, list[str]]): Split name to pair names; with
            ``args.subset`` only ``train`` is used.
        folders (Sequence[str]): The folders of the frames and of the
            labels, relative to ``root``.
        args (argparse.Namespace): ``nproc``, ``force``, ``subset``,
            ``seed``.
        table (LabelTable): The label ids of the dataset.

    Returns:
        str: The summary line.
    """
    if args.subset is not None:
        splits = dict(train=splits['train'])
    names = list(dict.fromkeys(n for split in splits.values() for n in split))
    pairs = [find_pair(root, name, *folders) for name in names]
    if args.subset is None:
        results = check_pairs(root, pairs, args, table=table)
    else:
        # The draw is from the pairs that pass every check, so that the
        # subset has N usable pairs; only those N are written.
        checked = check_pairs(root, pairs, args, write=False, table=table)
        valid = {r.name: r for r in checked if r.fault is None}
        chosen = select_subset([n for n in splits['train'] if n in valid],
                               args.subset, args.seed)
        splits = {f'train_subset{args.subset}_seed{args.seed}': chosen}
        results = [r for r in checked if r.fault is not None] + check_pairs(
            root, [valid[n] for n in chosen], args, table=table)
    done = {r.name for r in results if r.fault is None}
    lists = {
        f'{split}.txt':
        write_list(root, f'{split}.txt', [n for n in split_names if n in done])
        for split, split_names in splits.items()
    }
    return finish(root, results, lists)


def add_subset_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--subset N`` and ``--seed S`` to a converter's parser."""
    parser.add_argument(
        '--subset',
        type=int,
        default=None,
        metavar='N',
        help='convert and list only N training pairs drawn '
        'with --seed (e.g. 2975, the size of Cityscapes '
        'train)')
    parser.add_argument(
        '--seed',
        type=int,
        default=0,
        metavar='S',
        help='seed of the --subset draw (default: 0)')
