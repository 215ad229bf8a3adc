"""GaussianBlur against scipy's Gaussian filter."""
import numpy as np
import pytest
from mmseg.registry import TRANSFORMS
from scipy.ndimage import gaussian_filter


@pytest.mark.parametrize('sigma', [0.7, 1.0, 2.5])
def test_blur_matches_scipy_and_keeps_the_label(sigma):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (40, 56, 3)).astype(np.uint8)
    label = rng.integers(0, 19, (40, 56)).astype(np.uint8)
    out = TRANSFORMS.build(dict(type='GaussianBlur', sigma=sigma))(
        dict(img=img.copy(), gt_seg_map=label.copy()))
    # Same kernel radius ceil(3 sigma) and mirrored borders as OpenCV's.
    radius = int(np.ceil(3 * sigma))
    expected = np.stack([
        gaussian_filter(
            img[..., c].astype(float),
            sigma,
            mode='mirror',
            truncate=radius / sigma) for c in range(3)
    ],
                        axis=2)
    assert out['img'].dtype == np.uint8
    # OpenCV blurs 8-bit images with fixed-point kernels: rounding only.
    error = np.abs(out['img'].astype(float) - expected)
    assert error.max() <= 2.0 and error.mean() <= 0.5
    np.testing.assert_array_equal(out['gt_seg_map'], label)


def test_sigma_range_and_probability():
    img = np.random.default_rng(1).integers(0, 256,
                                            (16, 16, 3)).astype(np.uint8)
    never = TRANSFORMS.build(
        dict(type='GaussianBlur', sigma=(0.5, 2.0), prob=0.0))
    np.testing.assert_array_equal(never(dict(img=img.copy()))['img'], img)
    assert 'sigma_range=(0.5, 2.0)' in repr(never)


@pytest.mark.parametrize(
    'kwargs',
    [dict(sigma=0), dict(sigma=(2.0, 1.0)),
     dict(prob=1.5)])
def test_bad_arguments_are_explained(kwargs):
    with pytest.raises(ValueError, match='GaussianBlur'):
        TRANSFORMS.build(dict(type='GaussianBlur', **kwargs))
