"""Convert Cityscapes ``gtFine`` annotations to the 19 train ids.

Layout (official download): ``DATA_ROOT/leftImg8bit/{split}/{city}/
{city}_{seq}_{frame}_leftImg8bit.png`` and ``DATA_ROOT/gtFine/{split}/{city}/
..._gtFine_labelIds.png`` and/or ``..._gtFine_polygons.json``. Writes
``..._gtFine_labelTrainIds.png`` next to them (what mmseg's
``CityscapesDataset`` reads), ``{split}.txt`` lists of ``{city}/{stem}`` for
the valid pairs (mmseg's format), ``class_pixel_counts.json`` and
``faulty_pairs.txt``.

Source of the label ids: the official ``*_gtFine_labelIds.png`` when present
(the dataset ships them, rasterized by ``cityscapesscripts``); otherwise the
polygons, drawn the way ``cityscapesscripts`` draws them
(:mod:`.polygons`), so the ``cityscapesscripts`` package is not needed. A
frame without annotation, an annotation without frame, an annotation whose
size differs from its frame, or one that cannot be read is reported by name
and left out of the lists.
"""
import argparse
import functools
import json
import os
import os.path as osp
from typing import Optional, Sequence

from .common import (LayoutError, PairResult, base_parser, check_layout,
                     convert_or_count, image_size, read_label_ids,
                     report_faults, run_cli, run_tasks, size_fault, summary,
                     write_counts, write_list)
from .polygons import read_polygons

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


def check_pair(task: tuple, root: str) -> PairResult:
    """Check that frame ``(split, city/stem)`` has an annotation of its size.
    """
    split, stem = task
    gt = osp.join('gtFine', split, stem)
    image = osp.join('leftImg8bit', split, stem + IMG_SUFFIX)
    result = PairResult(f'{split}/{stem}', label=gt + SUFFIXES['train_ids'])
    ids, polygons = gt + SUFFIXES['ids'], gt + SUFFIXES['polygons']
    try:
        if not osp.isfile(osp.join(root, image)):
            result.fault = f'no frame {image}'
        elif osp.isfile(osp.join(root, ids)):
            result.fault = size_fault(root, image,
                                      image_size(osp.join(root, ids)), ids)
        elif osp.isfile(osp.join(root, polygons)):
            with open(osp.join(root, polygons)) as f:
                annotation = json.load(f)
            result.fault = size_fault(
                root, image,
                (annotation['imgWidth'], annotation['imgHeight']), polygons)
        else:
            result.fault = f'no annotation {ids} or {polygons}'
    except (OSError, ValueError, KeyError) as error:
        result.fault = f'unreadable annotation: {error!r}'
    return result


def convert_pair(result: PairResult, root: str, force: bool) -> PairResult:
    """Write (or count) the train-id label of a checked pair."""
    gt = osp.join(root, result.label[:-len(SUFFIXES['train_ids'])])
    if osp.isfile(gt + SUFFIXES['ids']):
        load = functools.partial(read_label_ids, gt + SUFFIXES['ids'])
    else:
        load = functools.partial(read_polygons, gt + SUFFIXES['polygons'])
    try:
        return convert_or_count(result, root, force, load)
    except (OSError, ValueError, KeyError) as error:
        result.fault = f'unreadable annotation: {error!r}'
        return result


def convert(args: argparse.Namespace) -> str:
    """Run the conversion the command line asks for; return a summary."""
    root = args.data_root
    tasks = []
    for split in find_splits(root):
        stems = _stems(osp.join(root, 'leftImg8bit', split), [IMG_SUFFIX])
        stems |= _stems(
            osp.join(root, 'gtFine', split),
            [SUFFIXES['ids'], SUFFIXES['polygons']])
        tasks += [(split, stem) for stem in sorted(stems)]
    if not tasks:
        raise LayoutError(f'{root}/leftImg8bit holds no *{IMG_SUFFIX} frames.')
    checked = run_tasks(functools.partial(check_pair, root=root), tasks,
                        args.nproc, 'checking')
    converted = run_tasks(
        functools.partial(convert_pair, root=root, force=args.force),
        [r for r in checked if r.fault is None], args.nproc, 'converting')
    results = [r for r in checked if r.fault is not None] + converted
    report_faults(root, results)
    write_counts(root, converted)
    lists = {}
    for split in dict.fromkeys(task[0] for task in tasks):
        names = [
            r.name.split('/', 1)[1] for r in converted
            if r.fault is None and r.name.startswith(split + '/')
        ]
        lists[f'{split}.txt'] = write_list(root, f'{split}.txt', names)
    return summary(root, results, lists)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point of ``tools/dataset_converters/cityscapes.py``.
    """
    parser = base_parser(
        'Convert Cityscapes gtFine annotations (label-id PNGs or polygons) to '
        'train ids, check every pair, and write file lists and per-class '
        'pixel counts.')
    return run_cli(convert, parser, argv)
