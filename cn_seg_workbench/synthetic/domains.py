"""Write a "real" and a "rendered" synthetic domain in the official layouts.

``OUT/cityscapes`` is laid out exactly as the Cityscapes download
(``leftImg8bit/{split}/{city}/{city}_{seq:06d}_{frame:06d}_leftImg8bit.png``,
``gtFine/.../..._gtFine_labelIds.png`` and ``..._gtFine_polygons.json``) and
``OUT/gta5`` as the GTA5 download (``images/00001.png``, ``labels/00001.png``
palette PNGs of Cityscapes label ids, ``split.mat``), with frames of another
size and aspect. Training frame 2 of GTA5 has no label and the label of
training frame 3 has the wrong size, as in the real GTA5, so the converters'
fault handling runs every time. Both domains draw the same kind of street
scenes (:mod:`.scene`) and differ in appearance (:mod:`.appearance`). Every
frame is determined by ``(seed, domain, split, index)``.

On request a third domain, ``OUT/synthia``, in the SYNTHIA RAND_CITYSCAPES
layout (``RGB/0000000.png``, ``GT/LABELS/0000000.png``: 16-bit PNGs with the
SYNTHIA class id in the first channel and an instance id in the second),
training frames only, as the dataset has no split; terrain, truck and train
are void there, as RAND_CITYSCAPES holds none.
"""
import io
import json
import os
import os.path as osp
from typing import Dict, Sequence

import cv2
import numpy as np
from PIL import Image
from scipy.io import savemat

from cn_seg.openmmlab.datasets.cityscapes_labels import (CLASSES,
                                                         TRAIN_LABEL_IDS,
                                                         label_id_palette)
from cn_seg.openmmlab.datasets.converters.polygons import draw_objects
from cn_seg.openmmlab.datasets.synthia_labels import \
    TRAIN_LABEL_IDS as SYNTHIA_IDS
from .appearance import REAL, RENDERED, SYNTHIA, render
from .scene import street_layout

#: Frame sizes (width, height): Cityscapes' 2:1 and GTA5's 1914:1052.
REAL_SIZE = (256, 128)
RENDERED_SIZE = (240, 132)
CITIES = dict(
    train=('aachen', 'bremen', 'zurich'),
    val=('frankfurt', 'lindau', 'munster'))
#: SYNTHIA's 1280x760 at the scale of the other two (1/8).
SYNTHIA_SIZE = (160, 95)
#: GTA5 training frames with a missing and a mis-sized label (1-based).
MISSING_LABEL, WRONG_SIZE_LABEL = 2, 3
#: The domains the generator writes, and those it writes by default.
DOMAINS = ('cityscapes', 'gta5', 'synthia')
DEFAULT_DOMAINS = ('cityscapes', 'gta5')
#: Classes RAND_CITYSCAPES has ids for but no pixels of.
SYNTHIA_ABSENT = ('terrain', 'truck', 'train')


def _frame(seed: int, domain: int, split: str, index: int, size,
           ego_vehicle: bool):
    """Objects (pixel polygons) and label ids of one frame."""
    rng = np.random.default_rng([seed, domain, int(split == 'val'), index])
    width, height = size
    layout = street_layout(rng)
    if ego_vehicle:  # the camera car's hood, ignored like in Cityscapes
        t = np.linspace(np.pi, 2 * np.pi, 13)
        layout.append(
            ('ego vehicle',
             list(zip(0.5 + 0.7 * np.cos(t), 1.04 + 0.1 * np.sin(t)))))
    objects = [(label, [[int(round(x * width)),
                         int(round(y * height))] for x, y in polygon])
               for label, polygon in layout]
    return rng, objects, draw_objects(
        [dict(label=n, polygon=p) for n, p in objects], width, height)


def _save(img, path: str) -> None:
    """Save an array or PIL image as a fast-compressed PNG."""
    if isinstance(img, np.ndarray):
        img = Image.fromarray(img)
    img.save(path, compress_level=1)


def write_cityscapes(root: str, seed: int, counts: Dict[str, int]) -> None:
    """Write the "real" domain in the Cityscapes layout."""
    width, height = REAL_SIZE
    for split, num in counts.items():
        cities = CITIES[split]
        for i in range(num):
            city = cities[i % len(cities)]
            stem = f'{city}_{i // len(cities):06d}_000019'
            rng, objects, label_ids = _frame(seed, 0, split, i, REAL_SIZE,
                                             True)
            img_dir = osp.join(root, 'leftImg8bit', split, city)
            gt_dir = osp.join(root, 'gtFine', split, city)
            os.makedirs(img_dir, exist_ok=True)
            os.makedirs(gt_dir, exist_ok=True)
            _save(
                render(objects, width, height, REAL, rng),
                osp.join(img_dir, f'{stem}_leftImg8bit.png'))
            _save(label_ids, osp.join(gt_dir, f'{stem}_gtFine_labelIds.png'))
            annotation = dict(
                imgHeight=height,
                imgWidth=width,
                objects=[dict(label=n, polygon=p) for n, p in objects])
            with open(osp.join(gt_dir, f'{stem}_gtFine_polygons.json'),
                      'w') as f:
                json.dump(annotation, f)


def write_gta5(root: str, seed: int, counts: Dict[str, int]) -> None:
    """Write the "rendered" domain in the GTA5 layout."""
    width, height = RENDERED_SIZE
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    os.makedirs(osp.join(root, 'labels'), exist_ok=True)
    ids: Dict[str, list] = {}
    frame = 0
    for split, num in counts.items():
        ids[f'{split}Ids'] = []
        for i in range(num):
            frame += 1
            ids[f'{split}Ids'].append(frame)
            rng, objects, label_ids = _frame(seed, 1, split, i, RENDERED_SIZE,
                                             False)
            _save(
                render(objects, width, height, RENDERED, rng),
                osp.join(root, 'images', f'{frame:05d}.png'))
            if frame == MISSING_LABEL:
                continue
            label = Image.frombytes('P', (width, height), label_ids.tobytes())
            if frame == WRONG_SIZE_LABEL:
                label = label.resize((width - 8, height - 4), Image.NEAREST)
            label.putpalette(label_id_palette())
            _save(label, osp.join(root, 'labels', f'{frame:05d}.png'))
    _save_split(osp.join(root, 'split.mat'), ids)


def _synthia_ids() -> np.ndarray:
    """Cityscapes label id -> SYNTHIA class id (void, 0, for the rest)."""
    lut = np.zeros(256, dtype=np.uint16)
    for name, cityscapes_id, synthia_id in zip(CLASSES, TRAIN_LABEL_IDS,
                                               SYNTHIA_IDS):
        if name not in SYNTHIA_ABSENT:
            lut[cityscapes_id] = synthia_id
    return lut


def write_synthia(root: str, seed: int, counts: Dict[str, int]) -> None:
    """Write a second "rendered" domain in the SYNTHIA layout (train only)."""
    width, height = SYNTHIA_SIZE
    os.makedirs(osp.join(root, 'RGB'), exist_ok=True)
    os.makedirs(osp.join(root, 'GT', 'LABELS'), exist_ok=True)
    lut = _synthia_ids()
    for i in range(counts['train']):
        rng, objects, label_ids = _frame(seed, 2, 'train', i, SYNTHIA_SIZE,
                                         False)
        name = f'{i:07d}'
        _save(
            render(objects, width, height, SYNTHIA, rng),
            osp.join(root, 'RGB', f'{name}.png'))
        class_ids = lut[label_ids]
        instance = (class_ids > 0) * np.uint16(1 + i)
        # OpenCV writes 16-bit PNGs in BGR order: class id last (red).
        bgr = np.stack([np.zeros_like(class_ids), instance, class_ids], -1)
        cv2.imwrite(osp.join(root, 'GT', 'LABELS', f'{name}.png'), bgr)


def _save_split(path: str, ids: Dict[str, list]) -> None:
    """GTA5's ``split.mat``, the same bytes for the same ids.

    scipy writes the time into the MAT-file's 116-byte text header; a fixed
    text there keeps the generator's output a function of its seed alone.
    """
    buffer = io.BytesIO()
    savemat(buffer, {
        k: np.array(v, dtype=np.float64).reshape(-1, 1)
        for k, v in ids.items()
    })
    data = bytearray(buffer.getvalue())
    data[:116] = b'MATLAB 5.0 MAT-file, cn_seg synthetic domains'.ljust(
        116, b' ')
    with open(path, 'wb') as f:
        f.write(data)


def make_synthetic_domains(
        out: str,
        seed: int = 0,
        num_train: int = 80,
        num_val: int = 20,
        domains: Sequence[str] = DEFAULT_DOMAINS) -> Dict[str, str]:
    """Write ``out/cityscapes`` and ``out/gta5`` (and ``out/synthia``).

    Args:
        out (str): Output folder (created).
        seed (int): Seed of every frame. Default: 0.
        num_train (int): Training frames per domain (at least 3: two GTA5
            ones are faulty on purpose). Default: 80.
        num_val (int): Validation frames per domain (SYNTHIA: none).
            Default: 20.
        domains (Sequence[str]): Which of :data:`DOMAINS` to write.
            Default: ``('cityscapes', 'gta5')``.

    Returns:
        dict[str, str]: The data roots, keyed by domain.
    """
    unknown = [d for d in domains if d not in DOMAINS]
    if unknown or not domains:
        raise ValueError(f'--domains {" ".join(domains)}: choose from '
                         f'{", ".join(DOMAINS)}.')
    if num_train < max(MISSING_LABEL, WRONG_SIZE_LABEL) or num_val < 0:
        raise ValueError(
            f'--num-train {num_train} --num-val {num_val}: need at least 3 '
            'training frames (GTA5 frames 2 and 3 are the faulty ones) and '
            'a non-negative number of validation frames.')
    counts = dict(train=num_train, val=num_val)
    writers = dict(
        cityscapes=write_cityscapes, gta5=write_gta5, synthia=write_synthia)
    roots = {}
    for name in dict.fromkeys(domains):
        roots[name] = osp.join(out, name)
        writers[name](roots[name], seed, counts)
    return roots
