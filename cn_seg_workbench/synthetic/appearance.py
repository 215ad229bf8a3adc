"""How a layout looks in each synthetic domain.

Both domains colour every object by its class (the Cityscapes colour, jittered
per object) with a class-specific stripe texture, then differ the way
rendered frames differ from camera frames: the "real" domain is desaturated,
darker, slightly blurred and noisy with faint texture; the "rendered" domain
is saturated, bright, warm, sharpened, almost noise-free, with strong texture;
the second rendered domain (SYNTHIA's layout) is cool, flat and mildly
textured.
"""
import functools
from dataclasses import dataclass
from typing import Sequence, Tuple

import cv2
import numpy as np
from PIL import Image, ImageDraw

from cn_seg.openmmlab.datasets.cityscapes_labels import (CLASSES,
                                                         NAME_TO_LABEL_ID,
                                                         PALETTE)

#: Colours of the ignored labels the scenes use (Cityscapes' colours).
_OTHER_COLOURS = {
    'parking': (250, 170, 160),
    'static': (111, 74, 0),
    'ego vehicle': (40, 40, 40)
}


@dataclass(frozen=True)
class Style:
    """Appearance statistics of one domain.

    Args:
        saturation (float): Scale of the distance to grey.
        brightness (float): Multiplier of all channels.
        gamma (float): Exponent on intensities in [0, 1].
        cast (tuple[int, int, int]): Added RGB colour cast.
        blur (float): Gaussian blur sigma in pixels (0: none).
        sharpen (float): Unsharp-mask amount (0: none).
        noise (float): Gaussian noise sigma.
        texture (float): Amplitude of the class stripe textures.
        jitter (float): Sigma of the per-object colour jitter.
    """
    saturation: float
    brightness: float
    gamma: float
    cast: Tuple[int, int, int]
    blur: float
    sharpen: float
    noise: float
    texture: float
    jitter: float


REAL = Style(
    saturation=0.65,
    brightness=0.8,
    gamma=1.15,
    cast=(0, 4, 10),
    blur=0.8,
    sharpen=0.,
    noise=7.,
    texture=5.,
    jitter=16.)
RENDERED = Style(
    saturation=1.35,
    brightness=1.05,
    gamma=0.8,
    cast=(20, 6, -16),
    blur=0.,
    sharpen=0.8,
    noise=2.,
    texture=16.,
    jitter=10.)
SYNTHIA = Style(
    saturation=1.1,
    brightness=0.95,
    gamma=0.9,
    cast=(-12, 0, 16),
    blur=0.4,
    sharpen=0.3,
    noise=3.,
    texture=9.,
    jitter=12.)


def _base_colour(label: str) -> np.ndarray:
    if label in CLASSES:
        return np.array(PALETTE[CLASSES.index(label)], dtype=np.float32)
    return np.array(_OTHER_COLOURS.get(label, (0, 0, 0)), dtype=np.float32)


@functools.lru_cache(maxsize=8)
def _stripes(width: int, height: int) -> np.ndarray:
    """Stripe patterns in [-1, 1] of every label id: own frequency, angle."""
    k = np.arange(len(NAME_TO_LABEL_ID), dtype=np.float32)[:, None, None]
    angle, period = k * 0.9, 3.0 + (k % 5) * 2.0
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.sin(2 * np.pi * (x * np.cos(angle) + y * np.sin(angle)) / period)


def render(objects: Sequence[Tuple[str, list]], width: int, height: int,
           style: Style, rng: np.random.Generator) -> np.ndarray:
    """Render objects (pixel polygons, back to front) as an RGB frame.

    Args:
        objects (Sequence[tuple[str, list]]): ``(label, [[x, y], ...])``.
        width (int): Frame width.
        height (int): Frame height.
        style (Style): The domain's appearance.
        rng (np.random.Generator): Random generator of this frame.

    Returns:
        np.ndarray: ``uint8`` RGB image of shape (height, width, 3).
    """
    index = Image.new('L', (width, height), 0)
    drawer = ImageDraw.Draw(index)
    for i, (_, polygon) in enumerate(objects, 1):
        drawer.polygon([tuple(p) for p in polygon], fill=i)
    index = np.asarray(index)
    labels = ['unlabeled'] + [label for label, _ in objects]
    colours = np.stack([_base_colour(label) for label in labels])
    colours += rng.normal(0, style.jitter, colours.shape).astype(np.float32)
    label_ids = np.array([NAME_TO_LABEL_ID[n] for n in labels])[index]
    y, x = np.mgrid[0:height, 0:width]
    img = colours[index] + style.texture * _stripes(
        width, height)[label_ids, y, x][..., None]
    grey = img.mean(axis=2, keepdims=True)
    img = grey + style.saturation * (img - grey)
    img = 255 * (np.clip(img * style.brightness, 0, 255) / 255)**style.gamma
    img += np.array(style.cast, dtype=np.float32)
    if style.blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), style.blur)
    if style.sharpen > 0:
        img += style.sharpen * (img - cv2.GaussianBlur(img, (0, 0), 1.0))
    img += rng.normal(0, style.noise, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).round().astype(np.uint8)
