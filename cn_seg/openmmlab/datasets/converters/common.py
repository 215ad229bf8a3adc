"""What the Cityscapes and GTA5 converters share: layout, CLI, workers.

Both turn label-id images into ``*labelTrainIds.png`` (the 19 train ids,
everything else 255) after decoding every frame and label in full
(:mod:`.pairs`), keep the labels that still match their source unless
forced, exclude faulty pairs from the file lists and report them by name,
and record per-image class pixel counts for class-balanced sampling
(:mod:`.outputs`). Nothing here imports torch or mmseg.
"""
import argparse
import functools
import os.path as osp
import sys
from typing import Callable, List, Optional, Sequence

from mmengine.utils import track_parallel_progress, track_progress

from .outputs import report, write_counts
from .pairs import CITYSCAPES_TABLE, LabelTable, PairResult, check_pair

#: Exit status for a data root without the expected layout.
EXIT_BAD_LAYOUT = 2


class LayoutError(Exception):
    """The data root does not have the dataset's official layout."""


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


def run_tasks(func: Callable, tasks: Sequence, nproc: int, desc: str) -> list:
    """``[func(t) for t in tasks]`` in ``nproc`` processes, with progress.

    The progress bar is mmengine's, as in mmseg's own converters.
    """
    tasks = list(tasks)
    if not tasks:
        return []
    print(f'{desc} {len(tasks)} pair(s)', file=sys.stderr)
    if nproc <= 1 or len(tasks) < 2:
        return track_progress(func, tasks, file=sys.stderr)
    return track_parallel_progress(func, tasks, nproc, file=sys.stderr)


def check_pairs(root: str,
                pairs: Sequence[PairResult],
                args,
                write: bool = True,
                table: LabelTable = CITYSCAPES_TABLE) -> List[PairResult]:
    """Run :func:`.pairs.check_pair` over the pairs that were found.

    Pairs that already have a fault (a missing file) are returned as they
    are; the others are decoded, checked against ``table`` and (if
    ``write``) converted, in ``args.nproc`` processes.
    """
    found = [p for p in pairs if p.fault is None]
    checked = run_tasks(
        functools.partial(
            check_pair, root=root, force=args.force, write=write, table=table),
        found, args.nproc, 'checking and converting' if write else 'checking')
    return [p for p in pairs if p.fault is not None] + checked


def finish(root: str, results: Sequence[PairResult], lists: dict) -> str:
    """Report faults and warnings, write the counts; return the summary.

    Args:
        root (str): The data root.
        results (Sequence[PairResult]): Every pair of the run, once.
        lists (dict): File name of each list written -> its length.
    """
    report(root, results)
    write_counts(root, results)
    done = [r for r in results if r.fault is None]
    converted = sum(r.converted for r in done)
    replaced = sum(r.replaced for r in done)
    warned = sum(r.warning is not None for r in done)
    files = ', '.join(f'{name} ({n})' for name, n in lists.items())
    return (f'{root}: {converted} label(s) converted' +
            (f' ({replaced} replacing an output that no longer matched its '
             'source)' if replaced else '') +
            f', {sum(r.up_to_date for r in done)} already done, '
            f'{len(results) - len(done)} faulty' +
            (f', {warned} with a warning' if warned else '') +
            f'; lists: {files}')


def base_parser(description: str) -> argparse.ArgumentParser:
    """The arguments both converters take."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        'data_root',
        metavar='DATA_ROOT',
        help='dataset root in its official layout')
    parser.add_argument(
        '--nproc', type=int, default=1, help='worker processes (default: 1)')
    parser.add_argument(
        '--force',
        action='store_true',
        help='rewrite every label, also those that still '
        'match their source (these are kept otherwise)')
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
