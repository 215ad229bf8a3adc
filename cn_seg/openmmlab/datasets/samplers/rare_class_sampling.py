"""Rare-class sampling (RCS) of one domain's frames, from the class counts.

DAFormer (Hoyer et al., CVPR 2022, Section 3.3): a class ``c`` is drawn
with probability ``softmax((1 - f_c) / T)`` over the classes present in the
domain, ``f_c`` being its share of the domain's labelled pixels, then a frame
holding at least ``min_pixels`` pixels of it, uniformly. Frequent classes
come along with the rare ones, so the draw mostly raises the rare classes.
The counts are the per-frame ``class_pixel_counts.json`` that the converters
of ``tools/dataset_converters/`` write into each data root.
"""
import json
import os.path as osp
from typing import Iterator, List, Mapping, Optional, Sequence

import numpy as np

from ..converters.outputs import COUNTS_FILE

#: The converter that writes each dataset type's counts.
CONVERTERS = dict(
    CityscapesDataset='tools/dataset_converters/cityscapes.py',
    GTA5Dataset='tools/dataset_converters/gta5.py',
    SynthiaDataset='tools/dataset_converters/synthia.py')

#: Draws made at once (the sequence depends on it; fixed).
_BLOCK = 1024


def _converter(dataset) -> str:
    tool = CONVERTERS.get(
        type(dataset).__name__, 'tools/dataset_converters/<dataset>.py')
    return f'python {tool} {dataset.data_root}'


def frame_class_counts(dataset) -> np.ndarray:
    """Pixels of each class in each frame of ``dataset``, ``(N, classes)``.

    Read from ``class_pixel_counts.json`` in the dataset's ``data_root``
    (label path relative to the root -> counts).

    Raises:
        ValueError: If the file is missing, unreadable, for other classes,
            or lacks a frame of the dataset (written before the labels
            changed); the message names the file and the converter command
            that writes it.
    """
    root = dataset.data_root or ''
    path = osp.join(root, COUNTS_FILE)
    fix = f'Run `{_converter(dataset)}` to write it.'
    try:
        with open(path) as f:
            data = json.load(f)
        classes, counts = list(data['classes']), data['counts']
    except FileNotFoundError:
        raise ValueError(f'Rare-class sampling needs the class pixel counts '
                         f'{path}, which does not exist. {fix}') from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f'Rare-class sampling cannot read {path} '
                         f'({error!r}). {fix}') from None
    expected = list(dataset.metainfo['classes'])
    if classes != expected:
        raise ValueError(f'{path} counts the classes {classes}, the dataset '
                         f'has {expected}. {fix}')
    rows = []
    for i in range(len(dataset)):
        label = dataset.get_data_info(i)['seg_map_path']
        key = osp.relpath(label, root) if root else label
        row = counts.get(key)
        if row is None or len(row) != len(classes):
            raise ValueError(
                f'{path} has no counts for {key} (it is older than the file '
                f'list or the labels). {fix}')
        rows.append(row)
    return np.asarray(rows, dtype=np.int64).reshape(len(rows), len(classes))


class RareClassSampling:
    """The RCS draw of one domain (see the module docstring).

    Args:
        counts (np.ndarray): Pixels of each class in each frame,
            ``(num_frames, num_classes)``.
        temperature (float): ``T``; smaller draws rarer classes more.
            Default: 0.01 (DAFormer's).
        min_pixels (int): A frame is drawn for class ``c`` if it holds at
            least this many pixels of it (at the converted size). Classes
            without such a frame are not drawn. Default: 3000 (DAFormer's,
            for 1914x1052 GTA5 frames).

    Attributes:
        classes (np.ndarray): The class indices that can be drawn.
        probs (np.ndarray): Their probabilities.
        frames (list[np.ndarray]): The frames (positions in the domain) of
            each of ``classes``.
    """

    def __init__(self,
                 counts: np.ndarray,
                 temperature: float = 0.01,
                 min_pixels: int = 3000):
        if not temperature > 0:
            raise ValueError('rare_class_sampling temperature must be > 0, '
                             f'got {temperature!r}.')
        total = counts.sum(0)
        present = np.flatnonzero(total)
        if not total.sum():
            raise ValueError('rare_class_sampling: the domain has no '
                             'labelled pixel of any class.')
        freq = total[present] / total.sum()
        logits = (1 - freq) / temperature
        probs = np.exp(logits - logits.max())
        frames = [np.flatnonzero(counts[:, c] >= min_pixels) for c in present]
        keep = [i for i, f in enumerate(frames) if len(f)]
        if not keep:
            raise ValueError(
                f'rare_class_sampling: no frame holds min_pixels='
                f'{min_pixels} pixels of any class; lower min_pixels.')
        self.dropped = [
            int(present[i]) for i in range(len(present)) if i not in keep
        ]
        self.classes = present[keep]
        self.probs = probs[keep] / probs[keep].sum()
        self.frames = [frames[i] for i in keep]

    def stream(self, rng: np.random.Generator) -> Iterator[int]:
        """Endless frame positions (within the domain), drawn with ``rng``."""
        while True:
            picks = rng.choice(len(self.classes), size=_BLOCK, p=self.probs)
            within = rng.random(_BLOCK)
            for c, u in zip(picks, within):
                frames = self.frames[c]
                yield int(frames[int(u * len(frames))])


def rcs_settings(config, names: Sequence[str]) -> List[Optional[dict]]:
    """The RCS settings of each domain, from the sampler's argument.

    Args:
        config (dict, optional): None (no RCS), one setting for every domain
            (``dict(temperature=0.01, min_pixels=3000)``), or a dict from
            domain index or name to a setting (or None); unlisted domains
            are sampled without RCS.
        names (Sequence[str]): The domain names, by index.

    Returns:
        list[dict | None]: One entry per domain.
    """
    keys = {'temperature', 'min_pixels'}
    if config is None:
        return [None] * len(names)
    if not isinstance(config, Mapping):
        raise ValueError(
            f'rare_class_sampling must be a dict, got {config!r}.')
    if set(config) <= keys:
        return [dict(config)] * len(names)
    settings: List[Optional[dict]] = [None] * len(names)
    for key, value in config.items():
        k = names.index(key) if key in names else key
        if isinstance(k, bool) or not isinstance(k, int) or \
                not 0 <= k < len(names):
            raise ValueError(
                f'rare_class_sampling key {key!r} is neither a setting '
                f'({sorted(keys)}) nor a domain (an index below '
                f'{len(names)} or one of {list(names)}).')
        if value is not None and (not isinstance(value, Mapping)
                                  or not set(value) <= keys):
            raise ValueError(
                f'rare_class_sampling[{key!r}] must be None or a dict with '
                f'{sorted(keys)}, got {value!r}.')
        settings[k] = None if value is None else dict(value)
    return settings
