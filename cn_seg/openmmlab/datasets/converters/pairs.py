"""Check and convert one frame/label pair, decoding both in full.

A pair is listed for training only if its frame decodes, its label-id
source (a PNG or Cityscapes polygons) decodes to the frame's size, and the
label holds Cityscapes label ids. Headers are not enough: a PNG cut after its
header opens and reports its size, and fails only when a training worker
decodes it.
"""
import dataclasses
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple

import cv2
import numpy as np
from PIL import Image

from ..cityscapes_labels import (CLASSES, KNOWN_LABEL_IDS, TRAIN_LABEL_IDS,
                                 label_id_to_train_id_lut)
from .polygons import read_polygons

#: A label is faulty (left out) when more than this share of its pixels
#: hold ids outside the Cityscapes table (0..33). Official label-id images
#: hold none, so a few stray pixels are only reported (they are ignored in
#: training); a larger share means the file is not a label-id image, e.g. a
#: train-id image (whose ignored pixels, 255, cover several percent of a
#: Cityscapes frame) or a colour label saved as grey.
MAX_UNKNOWN_SHARE = 0.01

#: Errors that mean a file cannot be read or decoded: ``OSError`` covers
#: truncated files, ``PIL.UnidentifiedImageError``, ``PermissionError`` and
#: folders; ``ValueError``/``KeyError``/``TypeError`` bad JSON or polygons;
#: PIL raises ``SyntaxError`` for some broken PNG chunks.
READ_ERRORS = (OSError, ValueError, KeyError, TypeError, SyntaxError,
               cv2.error)


@dataclass
class PairResult:
    """One image/label pair and what the converter found.

    Args:
        name (str): The pair's name in messages (the file lists hold the
            part after the split, for Cityscapes).
        frame (str): The frame, relative to the data root.
        source (str): Its label-id PNG or polygons JSON, relative to the
            data root.
        label (str): The train-id label written, relative to the data root.
        expect_classes (bool): Report a label without any pixel of the 19
            classes. Default: True.
        fault (str, optional): Why the pair is left out; None if it is fine.
        warning (str, optional): What is odd about a pair that is kept.
        counts (list[int]): Pixels of each train id in the label.
        up_to_date (bool): The label existed and matched its source.
        converted (bool): The label was written in this run.
        replaced (bool): The label written replaced one that no longer
            matched its source (the source changed after the conversion).
    """
    name: str
    frame: str = ''
    source: str = ''
    label: str = ''
    expect_classes: bool = True
    fault: Optional[str] = None
    warning: Optional[str] = None
    counts: List[int] = field(default_factory=list)
    up_to_date: bool = False
    converted: bool = False
    replaced: bool = False


def read_label_ids(path: str) -> np.ndarray:
    """Decode a single-channel (grey or palette) label-id PNG.

    Raises:
        ValueError: If the image holds colours instead of label ids.
    """
    with Image.open(path) as img:
        if img.mode not in ('L', 'P'):
            raise ValueError(f'{path} is a {img.mode} image; expected label '
                             'ids in a grey or palette PNG')
        return np.asarray(img)


def load_label_ids(path: str) -> np.ndarray:
    """Label ids of a label-id PNG or a ``*_gtFine_polygons.json``."""
    if path.endswith('.json'):
        return read_polygons(path)
    return read_label_ids(path)


@dataclass(frozen=True)
class LabelTable:
    """How a dataset's label images hold its label ids.

    Args:
        name (str): The table's name in messages ('Cityscapes').
        train_label_ids (tuple[int]): The label id of each train id.
        known_ids (tuple[int]): Every id a label may hold (0..255); any
            other is unknown.
        read (Callable[[str], np.ndarray]): Decodes a label source into
            ``uint8`` label ids (a module-level function: the workers
            pickle it).
    """
    name: str
    train_label_ids: Tuple[int, ...]
    known_ids: Tuple[int, ...]
    read: Callable[[str], np.ndarray]

    def lut(self) -> np.ndarray:
        """The 256-entry lookup table from label id to train id (255)."""
        return label_id_to_train_id_lut(self.train_label_ids)

    def unknown(self) -> np.ndarray:
        """Whether each of the 256 ids is outside the table."""
        unknown = np.ones(256, dtype=bool)
        unknown[list(self.known_ids)] = False
        return unknown

    def expected(self) -> str:
        """The known ids, for messages: '0..33'."""
        ids = sorted(self.known_ids)
        if ids == list(range(ids[0], ids[-1] + 1)):
            return f'{ids[0]}..{ids[-1]}'
        return ', '.join(map(str, ids))


#: Cityscapes label ids (Cityscapes, and GTA5, whose labels reuse them).
CITYSCAPES_TABLE = LabelTable('Cityscapes', TRAIN_LABEL_IDS, KNOWN_LABEL_IDS,
                              load_label_ids)


def frame_size(path: str):
    """``(width, height)`` of a frame decoded as training will decode it.

    mmcv's ``LoadImageFromFile`` decodes with OpenCV by default, which is
    stricter than PIL: a PNG without its last bytes (the end chunk) decodes
    in PIL and not in OpenCV.

    Raises:
        OSError: If the file cannot be read, or PIL says why it does not
            decode.
        ValueError: If only OpenCV fails to decode it.
    """
    with open(path, 'rb') as f:
        data = np.frombuffer(f.read(), np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        with Image.open(path) as pil:  # PIL's reason, if it has one
            pil.load()
        raise ValueError('OpenCV cannot decode it, so neither can mmcv\'s '
                         'LoadImageFromFile')
    return img.shape[1], img.shape[0]


def _ids_message(hist: np.ndarray, unknown_ids: np.ndarray) -> str:
    unknown = np.flatnonzero(hist * unknown_ids)
    shown = ', '.join(str(i) for i in unknown[:5])
    return shown + (', ...' if len(unknown) > 5 else '')


def label_problems(result: PairResult,
                   ids: np.ndarray,
                   table: LabelTable = CITYSCAPES_TABLE) -> PairResult:
    """Set ``counts`` and any fault or warning about the ids of a label."""
    hist = np.bincount(ids.ravel(), minlength=256)
    counts = hist[list(table.train_label_ids)]
    unknown = table.unknown()
    share = hist[unknown].sum() / max(ids.size, 1)
    what = f'label {result.source}'
    if share > MAX_UNKNOWN_SHARE:
        return dataclasses.replace(
            result,
            fault=
            (f'{what}: {share:.1%} of its pixels hold ids outside the '
             f'{table.name} table ({_ids_message(hist, unknown)}; expected '
             f'{table.expected()}). Is it a label-id image (not train ids or '
             'colours)? Replace it with the dataset\'s label-id PNG.'))
    warning = None
    if share > 0:
        warning = (f'{what}: {share:.2%} of its pixels hold ids outside the '
                   f'{table.name} table ({_ids_message(hist, unknown)}); '
                   'they are ignored (255)')
    elif result.expect_classes and not counts.any():
        warning = (f'{what} has no pixel of the {len(CLASSES)} classes: all '
                   'of it is ignored in training')
    return dataclasses.replace(result, counts=counts.tolist(), warning=warning)


def write_train_ids(train_ids: np.ndarray, out: str) -> None:
    """Write a train-id PNG through a temporary file and a rename.

    The temporary name does not end with ``.png``, so a file left by a
    killed run is never taken for a frame or a label.
    """
    tmp = out + '.tmp'
    Image.fromarray(train_ids).save(tmp, format='PNG')
    os.replace(tmp, out)


def _matches(path: str, train_ids: np.ndarray) -> Optional[bool]:
    """Whether the label at ``path`` holds ``train_ids``; None if absent."""
    if not osp.isfile(path):
        return None
    try:
        with Image.open(path) as img:
            return np.array_equal(np.asarray(img), train_ids)
    except READ_ERRORS:
        return False  # unreadable: write it again


def check_pair(result: PairResult,
               root: str,
               force: bool = False,
               write: bool = True,
               table: LabelTable = CITYSCAPES_TABLE) -> PairResult:
    """Decode a pair, check it, and write its train-id label if needed.

    An existing label is kept when it holds exactly what its source maps
    to, and written again when the source changed since (compared by
    content, not modification time: copies and restores keep old times).

    Args:
        result (PairResult): The pair, with ``frame``, ``source`` and
            ``label`` set.
        root (str): The data root.
        force (bool): Write the label even if it is up to date.
            Default: False.
        write (bool): Write the label; False only checks and counts.
            Default: True.
        table (LabelTable): The label ids of the dataset. Default:
            Cityscapes'.

    Returns:
        PairResult: A new result (the argument is left as it is).
    """
    try:
        width, height = frame_size(osp.join(root, result.frame))
    except READ_ERRORS as error:
        return dataclasses.replace(
            result, fault=f'unreadable frame {result.frame}: {error!r}')
    try:
        ids = table.read(osp.join(root, result.source))
    except READ_ERRORS as error:
        return dataclasses.replace(
            result, fault=f'unreadable label {result.source}: {error!r}')
    if ids.shape != (height, width):
        return dataclasses.replace(
            result,
            fault=
            (f'label {result.source} is {ids.shape[1]}x{ids.shape[0]} but its '
             f'frame {result.frame} is {width}x{height}'))
    result = label_problems(result, ids, table)
    if result.fault is not None or not write:
        return result
    train_ids = table.lut()[ids]
    out = osp.join(root, result.label)
    matches = None if force else _matches(out, train_ids)
    if matches:
        return dataclasses.replace(result, up_to_date=True)
    write_train_ids(train_ids, out)
    return dataclasses.replace(
        result, converted=True, replaced=matches is False)
