"""Convert Cityscapes ``gtFine`` annotations to the 19 train ids.

Layout (official download): ``DATA_ROOT/leftImg8bit/{split}/{city}/
{city}_{seq}_{frame}_leftImg8bit.png`` and ``DATA_ROOT/gtFine/{split}/{city}/
..._gtFine_labelIds.png`` and/or ``..._gtFine_polygons.json``. Writes
``..._gtFine_labelTrainIds.png`` next to them (what mmseg's
``CityscapesDataset`` reads), ``{split}.txt`` lists of ``{city}/{stem}`` for
the valid pairs (mmseg's format), ``class_pixel_counts.json``,
``faulty_pairs.txt`` and ``label_warnings.txt``.

Source of the label ids: the official ``*_gtFine_labelIds.png`` when present
(the dataset ships them, rasterized by ``cityscapesscripts``); otherwise the
polygons, drawn the way ``cityscapesscripts`` draws them
(:mod:`.polygons`), so the ``cityscapesscripts`` package is not needed. A
frame without annotation, an annotation without frame, a frame or an
annotation that does not decode, an annotation whose size differs from its
frame, or one that is mostly not label ids is reported by name and left out
of the lists (:mod:`.pairs`).
"""
import argparse
import os
import os.path as osp
from typing import List, Optional, Sequence

from .common import (LayoutError, base_parser, check_layout, check_pairs,
                     finish, run_cli)
from .outputs import write_list
from .pairs import PairResult

IMG_SUFFIX = '_leftImg8bit.png'
SUFFIXES = dict(
    ids='_gtFine_labelIds.png',
    polygons='_gtFine_polygons.json',
    train_ids='_gtFine_labelTrainIds.png')
SPLITS = ('train', 'val', 'test')


def _stems(folder: str, suffixes: Sequence[str]) -> set:
    """``{city}/{stem}`` of the files under ``folder`` with a suffix."""
    stems = set()
    for city in sorted(os.listdir(folder)):
        if not osp.isdir(osp.join(folder, city)):
            continue
        for f in os.listdir(osp.join(folder, city)):
            for suffix in suffixes:
                if f.endswith(suffix):
                    stems.add(f'{city}/{f[:-len(suffix)]}')
    return stems


def find_splits(root: str) -> list:
    """The splits present under both ``leftImg8bit`` and ``gtFine``."""
    check_layout(root, ['leftImg8bit', 'gtFine'], 'Cityscapes')
    splits = [
        s for s in SPLITS if osp.isdir(osp.join(root, 'leftImg8bit', s))
        or osp.isdir(osp.join(root, 'gtFine', s))
    ]
    if not splits:
        raise LayoutError(
            f'{root} has none of leftImg8bit/{{{",".join(SPLITS)}}}/.')
    for split in splits:
        check_layout(root, [f'leftImg8bit/{split}', f'gtFine/{split}'],
                     'Cityscapes')
    return splits


def find_pair(root: str, split: str, stem: str) -> PairResult:
    """Frame ``(split, city/stem)`` and its annotation, or what is missing.

    The label-id PNG is the source when present, else the polygons.
    Cityscapes' test annotations hold only the ego vehicle and the
    rectification border (the benchmark keeps the rest), so a test label
    without classes is not reported.
    """
    gt = osp.join('gtFine', split, stem)
    pair = PairResult(
        f'{split}/{stem}',
        frame=osp.join('leftImg8bit', split, stem + IMG_SUFFIX),
        label=gt + SUFFIXES['train_ids'],
        expect_classes=split != 'test')
    ids, polygons = gt + SUFFIXES['ids'], gt + SUFFIXES['polygons']
    if not osp.lexists(osp.join(root, pair.frame)):
        pair.fault = f'no frame {pair.frame}'
    elif osp.isfile(osp.join(root, ids)):
        pair.source = ids
    elif osp.isfile(osp.join(root, polygons)):
        pair.source = polygons
    else:
        pair.fault = f'no annotation {ids} or {polygons}'
    return pair


def convert(args: argparse.Namespace) -> str:
    """Run the conversion the command line asks for; return a summary."""
    root = args.data_root
    pairs: List[PairResult] = []
    for split in find_splits(root):
        stems = _stems(osp.join(root, 'leftImg8bit', split), [IMG_SUFFIX])
        stems |= _stems(
            osp.join(root, 'gtFine', split),
            [SUFFIXES['ids'], SUFFIXES['polygons']])
        pairs += [find_pair(root, split, stem) for stem in sorted(stems)]
    if not pairs:
        raise LayoutError(f'{root}/leftImg8bit holds no *{IMG_SUFFIX} frames.')
    results = check_pairs(root, pairs, args)
    lists = {}
    for split in dict.fromkeys(p.name.split('/', 1)[0] for p in pairs):
        names = [
            r.name.split('/', 1)[1] for r in results
            if r.fault is None and r.name.startswith(split + '/')
        ]
        lists[f'{split}.txt'] = write_list(root, f'{split}.txt', names)
    return finish(root, results, lists)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point of ``tools/dataset_converters/cityscapes.py``.
    """
    parser = base_parser(
        'Convert Cityscapes gtFine annotations (label-id PNGs or polygons) to '
        'train ids, check every pair, and write file lists and per-class '
        'pixel counts.')
    return run_cli(convert, parser, argv)
