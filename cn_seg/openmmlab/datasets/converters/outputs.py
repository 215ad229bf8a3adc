"""The files a converter writes into the data root besides the labels.

``{split}.txt`` lists, ``class_pixel_counts.json``, ``faulty_pairs.txt`` and
``label_warnings.txt`` are each written to a temporary file and renamed, so
a killed run leaves the previous version or the new one, never half a file.
"""
import json
import os
import os.path as osp
import sys
from typing import Dict, Iterable, List, Sequence

from ..cityscapes_labels import CLASSES
from .pairs import PairResult

#: Name of the per-image class pixel counts written into each data root.
COUNTS_FILE = 'class_pixel_counts.json'
#: Name of the list of excluded pairs and why, written into each data root.
FAULTY_FILE = 'faulty_pairs.txt'
#: Name of the list of kept pairs with odd labels, written into each root.
WARNINGS_FILE = 'label_warnings.txt'


def write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


def write_list(root: str, filename: str, names: Iterable[str]) -> int:
    """Write one name per line to ``root/filename``; return the count."""
    names = list(names)
    write_text(osp.join(root, filename), ''.join(n + '\n' for n in names))
    return len(names)


def read_counts(path: str) -> Dict[str, List[int]]:
    """The counts of an earlier run, or ``{}`` if there is none to trust.

    A file that is not what :func:`write_counts` writes (cut short by a
    killed run of an older version, edited, or for other classes) is named
    in a warning and replaced by this run's counts.
    """
    if not osp.isfile(path):
        return {}
    try:
        with open(path) as f:
            data = json.load(f)
        counts = data['counts']
        if data['classes'] != list(CLASSES) or not all(
                isinstance(v, list) and len(v) == len(CLASSES)
                for v in counts.values()):
            raise ValueError(f'not the counts of the {len(CLASSES)} '
                             'Cityscapes classes')
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        print(
            f'warning: {path} is unreadable ({error!r}), perhaps left by '
            'an interrupted run; rewriting it with the counts of the '
            'labels of this run (run the converter without --subset to '
            'count every label).',
            file=sys.stderr)
        return {}
    return counts


def write_counts(root: str, results: Sequence[PairResult]) -> None:
    """Add the results' class pixel counts to ``root/class_pixel_counts.json``.

    The file maps each output label path (relative to ``root``) to its 19
    counts, in the order of its ``classes`` entry; entries of earlier runs
    that this run did not touch are kept.
    """
    path = osp.join(root, COUNTS_FILE)
    counts = read_counts(path)
    counts.update({r.label: r.counts for r in results if r.fault is None})
    write_text(path, json.dumps(dict(classes=list(CLASSES), counts=counts)))


def _report(root: str, filename: str, lines: List[str], what: str) -> None:
    write_text(osp.join(root, filename), ''.join(x + '\n' for x in lines))
    if lines:
        print(
            f'{len(lines)} {what} (also in {osp.join(root, filename)}):',
            file=sys.stderr)
        for line in lines:
            print(f'  {line}', file=sys.stderr)


def report(root: str, results: Sequence[PairResult]) -> None:
    """Print and write the excluded pairs and the kept ones with warnings."""
    _report(root, FAULTY_FILE,
            [f'{r.name}: {r.fault}' for r in results if r.fault is not None],
            'faulty pair(s) excluded from the file lists')
    _report(root, WARNINGS_FILE, [
        f'{r.name}: {r.warning}'
        for r in results if r.fault is None and r.warning is not None
    ], 'pair(s) kept with a warning')
