"""Gaussian blur of the image: one of the paper's transform domains."""
import math
from typing import Sequence, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class GaussianBlur(BaseTransform):
    """Blur the image with a Gaussian kernel; labels are left unchanged.

    The CN paper (Section 5.1.3) trains with blurred views as a transform
    domain. The kernel covers ``±ceil(3 * sigma)`` pixels, and image borders
    are reflected (OpenCV's ``BORDER_REFLECT_101``).

    Required Keys:

    - img

    Modified Keys:

    - img

    Example:
        >>> dict(type='GaussianBlur', sigma=(0.5, 2.0))

    Args:
        sigma (float | Sequence[float]): Standard deviation in pixels, or a
            ``(min, max)`` range to draw it from uniformly per image.
            Default: 1.0.
        prob (float): Probability of blurring an image. Default: 1.0.
    """

    def __init__(self,
                 sigma: Union[float, Sequence[float]] = 1.0,
                 prob: float = 1.0) -> None:
        super().__init__()
        low, high = (sigma, sigma) if isinstance(sigma,
                                                 (int, float)) else sigma
        if not 0 < low <= high:
            raise ValueError(
                f'GaussianBlur sigma={sigma!r} must be a positive number or '
                'a (min, max) range with 0 < min <= max.')
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'GaussianBlur prob={prob!r} must be in [0, 1].')
        self.sigma_range = (float(low), float(high))
        self.prob = prob

    def transform(self, results: dict) -> dict:
        """Blur ``results['img']`` (with probability ``prob``)."""
        if self.prob < 1.0 and np.random.rand() >= self.prob:
            return results
        sigma = np.random.uniform(*self.sigma_range)
        size = 2 * math.ceil(3 * sigma) + 1
        results['img'] = cv2.GaussianBlur(
            results['img'], (size, size),
            sigmaX=sigma,
            sigmaY=sigma,
            borderType=cv2.BORDER_REFLECT_101)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(sigma_range={self.sigma_range}, '
                f'prob={self.prob})')
