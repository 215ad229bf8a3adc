"""Rasterize Cityscapes ``*_gtFine_polygons.json`` into label-id images.

The same drawing as ``cityscapesscripts.preparation.json2labelImg`` (which is
not a dependency here): start from ``unlabeled`` (0), draw each object that is
not deleted, in file order, as a filled PIL polygon of its label id; a
``...group`` label (``cargroup``) takes the id of its class; labels with a
negative id (license plate) are skipped.
"""
import json
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from ..cityscapes_labels import NAME_TO_LABEL_ID


def label_id_of(name: str) -> int:
    """The label id of an annotation label name.

    Raises:
        ValueError: If the name is not a Cityscapes label.
    """
    if name not in NAME_TO_LABEL_ID and name.endswith('group'):
        name = name[:-len('group')]
    if name not in NAME_TO_LABEL_ID:
        raise ValueError(f"unknown Cityscapes label '{name}'")
    return NAME_TO_LABEL_ID[name]


def draw_objects(objects: Sequence[dict], width: int,
                 height: int) -> np.ndarray:
    """Draw ``[{'label': name, 'polygon': [[x, y], ...]}, ...]`` in order.

    Args:
        objects (Sequence[dict]): Annotation objects; ``deleted`` ones are
            skipped.
        width (int): Image width.
        height (int): Image height.

    Returns:
        np.ndarray: ``uint8`` label ids of shape (height, width).
    """
    img = Image.new('L', (width, height), NAME_TO_LABEL_ID['unlabeled'])
    drawer = ImageDraw.Draw(img)
    for obj in objects:
        if obj.get('deleted'):
            continue
        label_id = label_id_of(obj['label'])
        if label_id < 0:
            continue
        drawer.polygon([tuple(p) for p in obj['polygon']], fill=label_id)
    return np.asarray(img)


def read_polygons(path: str) -> np.ndarray:
    """Label ids of a ``*_gtFine_polygons.json`` file."""
    with open(path) as f:
        annotation = json.load(f)
    return draw_objects(annotation['objects'], annotation['imgWidth'],
                        annotation['imgHeight'])
