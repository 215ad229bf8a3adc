"""What the Cityscapes and GTA5 converters share.

Both turn label-id images into ``*labelTrainIds.png`` (the 19 train ids,
everything else 255), skip outputs that exist unless forced (each output is
written to a temporary file and renamed, so an interrupted run leaves no
half-written label), exclude faulty pairs from the file lists and report them
by name, and record per-image class pixel counts for class-balanced sampling.
"""
import argparse
import json
import os
import os.path as osp
import sys
from dataclasses import dataclass, field
from multiprocessing import Pool
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..cityscapes_labels import CLASSES, IGNORE_INDEX, label_id_to_train_id_lut

#: Name of the per-image class pixel counts written into each data root.
COUNTS_FILE = 'class_pixel_counts.json'
#: Name of the list of excluded pairs and why, written into each data root.
FAULTY_FILE = 'faulty_pairs.txt'
#: Exit status for a data root without the expected layout.
EXIT_BAD_LAYOUT = 2

_LUT = label_id_to_train_id_lut()


class LayoutError(Exception):
    """The data root does not have the dataset's official layout."""


@dataclass
class PairResult:
    """The outcome for one image/label pair.

    Args:
        name (str): The pair's name as written in the file lists.
        fault (str, optional): Why the pair is excluded; None if it is fine.
        label (str): Output label path relative to the data root.
        counts (list[int]): Pixels of each train id in the output label.
        converted (bool): Whether the label was written in this run.
    """
    name: str
    fault: Optional[str] = None
    label: str = ''
    counts: List[int] = field(default_factory=list)
    converted: bool = False


def check_layout(root: str, required: Sequence[str], dataset: str) -> None:
    """Raise :class:`LayoutError` naming the folders missing under ``root``.

    Args:
        root (str): The data root given on the command line.
        required (Sequence[str]): Folders that must exist under ``root``.
        dataset (str): Dataset name for the message.
    """
    missing = [p for p in required if not osp.isdir(osp.join(root, p))]
    if missing:
        raise LayoutError(
            f'{root} is not a {dataset} data root: missing '
            f"{', '.join(osp.join(root, p) for p in missing)}. Expected "
            f"{', '.join(p + '/' for p in required)} as in the official "
            'download.')


def image_size(path: str):
    """``(width, height)`` of an image, read from its header."""
    with Image.open(path) as img:
        return img.size


def read_label_ids(path: str) -> np.ndarray:
    """Read a single-channel (grey or palette) label-id PNG.

    Raises:
        ValueError: If the image holds colours instead of label ids.
    """
    with Image.open(path) as img:
        if img.mode not in ('L', 'P'):
            raise ValueError(f'{path} is a {img.mode} image; expected label '
                             'ids in a grey or palette PNG')
        return np.asarray(img)


def size_fault(root: str, image: str, label_size, label: str) -> Optional[str]:
    """A message if ``label_size`` differs from the image's size, else None.

    Args:
        root (str): The data root.
        image (str): The frame, relative to ``root``.
        label_size (tuple[int, int]): ``(width, height)`` of the label.
        label (str): The label, relative to ``root``, for the message.
    """
    img_size = image_size(osp.join(root, image))
    if tuple(label_size) == tuple(img_size):
        return None
    return (f'label {label} is {label_size[0]}x{label_size[1]} but its frame '
            f'{image} is {img_size[0]}x{img_size[1]}')


def class_counts(train_ids: np.ndarray) -> List[int]:
    """Pixels of each of the 19 train ids (ignored pixels not counted)."""
    valid = train_ids[train_ids != IGNORE_INDEX]
    return np.bincount(valid, minlength=len(CLASSES))[:len(CLASSES)].tolist()


def write_train_ids(label_ids: np.ndarray, out: str) -> np.ndarray:
    """Map label ids to train ids and write them atomically to ``out``."""
    train_ids = _LUT[label_ids]
    tmp = out + '.tmp.png'
    Image.fromarray(train_ids).save(tmp)
    os.replace(tmp, out)
    return train_ids


def convert_or_count(result: PairResult, root: str, force: bool,
                     load: Callable[[], np.ndarray]) -> PairResult:
    """Write ``result.label`` from ``load()`` unless it exists; count it.

    Args:
        result (PairResult): The pair, with ``label`` set.
        root (str): The data root.
        force (bool): Rewrite an existing output.
        load (callable): Returns the pair's label-id array.
    """
    out = osp.join(root, result.label)
    if force or not osp.isfile(out):
        train_ids = write_train_ids(load(), out)
        result.converted = True
    else:
        with Image.open(out) as img:
            train_ids = np.asarray(img)
    result.counts = class_counts(train_ids)
    return result


def run_tasks(func: Callable, tasks: Sequence, nproc: int,
              desc: str) -> list:
    """Run ``func`` over ``tasks`` in ``nproc`` processes, with a progress bar.
    """
    tasks = list(tasks)
    bar = dict(total=len(tasks), desc=desc, unit='pair', mininterval=1.0)
    if nproc <= 1 or len(tasks) < 2:
        return [func(t) for t in tqdm(tasks, **bar)]
    with Pool(nproc) as pool:
        chunks = max(1, min(64, len(tasks) // (4 * nproc)))
        return list(tqdm(pool.imap(func, tasks, chunks), **bar))


def write_list(root: str, filename: str, names: Iterable[str]) -> int:
    """Write one name per line to ``root/filename``; return the count."""
    names = list(names)
    with open(osp.join(root, filename), 'w') as f:
        f.writelines(n + '\n' for n in names)
    return len(names)


def write_counts(root: str, results: Sequence[PairResult]) -> None:
    """Add the results' class pixel counts to ``root/class_pixel_counts.json``.

    The file maps each output label path (relative to ``root``) to its 19
    counts, in the order of its ``classes`` entry; entries of earlier runs
    that this run did not touch are kept.
    """
    path = osp.join(root, COUNTS_FILE)
    counts: Dict[str, List[int]] = {}
    if osp.isfile(path):
        with open(path) as f:
            counts = json.load(f).get('counts', {})
    counts.update({r.label: r.counts for r in results if r.fault is None})
    with open(path, 'w') as f:
        json.dump(dict(classes=list(CLASSES), counts=counts), f)


def report_faults(root: str, results: Sequence[PairResult]) -> List[str]:
    """Print and write (``faulty_pairs.txt``) the excluded pairs and why."""
    faults = [f'{r.name}: {r.fault}' for r in results if r.fault is not None]
    with open(osp.join(root, FAULTY_FILE), 'w') as f:
        f.writelines(line + '\n' for line in faults)
    if faults:
        print(f'{len(faults)} faulty pair(s) excluded from the file lists '
              f'(also in {osp.join(root, FAULTY_FILE)}):', file=sys.stderr)
        for line in faults:
            print(f'  {line}', file=sys.stderr)
    return faults


def summary(root: str, results: Sequence[PairResult], lists: dict) -> str:
    """One line saying what a run did."""
    done = [r for r in results if r.fault is None]
    converted = sum(r.converted for r in done)
    files = ', '.join(f'{name} ({n})' for name, n in lists.items())
    return (f'{root}: {converted} label(s) converted, '
            f'{len(done) - converted} already done, '
            f'{len(results) - len(done)} faulty; lists: {files}')


def base_parser(description: str) -> argparse.ArgumentParser:
    """The arguments both converters take."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('data_root', metavar='DATA_ROOT',
                        help='dataset root in its official layout')
    parser.add_argument('--nproc', type=int, default=1,
                        help='worker processes (default: 1)')
    parser.add_argument('--force', action='store_true',
                        help='rewrite labels that were converted before')
    return parser


def run_cli(convert: Callable[[argparse.Namespace], str],
            parser: argparse.ArgumentParser,
            argv: Optional[Sequence[str]] = None) -> int:
    """Parse ``argv``, run ``convert`` and turn layout errors into exit 2."""
    args = parser.parse_args(argv)
    try:
        print(convert(args))
    except LayoutError as error:
        print(f'error: {error}', file=sys.stderr)
        return EXIT_BAD_LAYOUT
    return 0
