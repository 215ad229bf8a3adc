"""TransformDomains: t aligned image/label views with their domain tags."""
import numpy as np
import pytest
from mmseg.registry import TRANSFORMS

H, W, BLOCK = 64, 128, 16
NAMES = ['identity', 'half', 'blur', 'crop', 'flip']
VIEWS = [
    [
        dict(type='Resize', scale_factor=0.5, keep_ratio=True),
        dict(type='Pad', size=(W, H))
    ],  # (w, h): the paper's rescale and pad
    [dict(type='GaussianBlur', sigma=1.0)],
    [dict(type='RandomCrop', crop_size=(32, 48))],
    [dict(type='RandomFlip', prob=1.0, direction='horizontal')],
]


def _colours():
    """Distinct channels 0 and 1 per class: the image encodes the label."""
    c = np.arange(19)
    return np.stack([c * 12 + 8, 240 - c * 11], axis=1).astype(np.uint8)


def _sample(seed=0):
    """Blocks of random classes coloured by class; channel 2 codes position."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 19, (H // BLOCK, W // BLOCK))
    label = np.kron(blocks, np.ones((BLOCK, BLOCK), int)).astype(np.uint8)
    y, x = np.mgrid[:H, :W]
    position = ((7 * x + 13 * y) % 251).astype(np.uint8)
    img = np.concatenate([_colours()[label], position[..., None]], axis=2)
    return dict(
        img=img,
        gt_seg_map=label,
        seg_fields=['gt_seg_map'],
        img_shape=(H, W),
        ori_shape=(H, W),
        img_path='frame.png',
        seg_map_path='frame_label.png',
        reduce_zero_label=False)


def _arrays(view):
    img = view['inputs'].numpy().transpose(1, 2, 0)
    label = view['data_samples'].gt_sem_seg.data.numpy()[0]
    return img, label


def _check_label_matches_image(img, label):
    """Where a label is surrounded by itself, the pixel has its colour."""
    padded = np.pad(label.astype(int), 1, mode='edge')
    same = np.ones(label.shape, bool)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            same &= padded[dy:dy + label.shape[0],
                           dx:dx + label.shape[1]] == label
    inner = same & (label != 255)
    assert inner.sum() > 0.3 * (label != 255).sum()  # not vacuous
    expected = _colours()[label[inner]].astype(int)
    assert np.abs(img[inner][:, :2].astype(int) - expected).max() <= 1


def _find(window, img):
    """The (y, x) offsets where ``window`` lies in ``img``."""
    h, w = window.shape[:2]
    return [(y, x) for y in range(img.shape[0] - h + 1)
            for x in range(img.shape[1] - w + 1)
            if np.array_equal(img[y:y + h, x:x + w], window)]


def test_views_are_aligned_and_tagged():
    transform = TRANSFORMS.build(
        dict(type='TransformDomains', views=VIEWS, domain_names=NAMES))
    sample = _sample()
    original_img, original_label = sample['img'].copy(
    ), sample['gt_seg_map'].copy()
    views = transform(sample)
    assert len(views) == len(NAMES) == transform.num_domains
    for k, view in enumerate(views):
        meta = view['data_samples'].metainfo
        assert (meta['domain_idx'], meta['domain_name']) == (k, NAMES[k])
        assert meta['img_path'] == 'frame.png'
    arrays = [_arrays(v) for v in views]

    # T_0 is the identity.
    np.testing.assert_array_equal(arrays[0][0], original_img)
    np.testing.assert_array_equal(arrays[0][1], original_label)
    # Rescaled to half size and padded: content top-left, padding ignored.
    img, label = arrays[1]
    assert img.shape[:2] == label.shape == (H, W)
    pad = np.ones((H, W), bool)
    pad[:H // 2, :W // 2] = False
    assert (label[pad] == 255).all() and (img[pad] == 0).all()
    np.testing.assert_array_equal(label[:H // 2, :W // 2],
                                  original_label[::2, ::2])
    # Blurred: the label is untouched, the image is not.
    np.testing.assert_array_equal(arrays[2][1], original_label)
    assert not np.array_equal(arrays[2][0], original_img)
    # Cropped and flipped: the label moved with the image.
    crop_img, crop_label = arrays[3]
    assert crop_img.shape[:2] == crop_label.shape == (32, 48)
    (y, x), = _find(crop_img, original_img)
    np.testing.assert_array_equal(crop_label, original_label[y:y + 32,
                                                             x:x + 48])
    np.testing.assert_array_equal(arrays[4][1], original_label[:, ::-1])
    for k in (0, 1, 3, 4):
        _check_label_matches_image(*arrays[k])


def test_default_names_and_custom_pack():
    transform = TRANSFORMS.build(
        dict(
            type='TransformDomains',
            views=VIEWS[1:2],
            pack=dict(
                type='PackSegInputs', meta_keys=('img_path', 'img_shape'))))
    views = transform(_sample())
    assert [v['data_samples'].metainfo['domain_name'] for v in views] == \
        ['view0', 'view1']
    assert set(views[0]['data_samples'].metainfo) == \
        {'img_path', 'img_shape', 'domain_idx', 'domain_name'}


@pytest.mark.parametrize('kwargs, message', [
    (dict(views=[]), 'needs views'),
    (dict(views=[dict(type='GaussianBlur')]), r'views\[0\] \(domain 1\)'),
    (dict(views=VIEWS, domain_names=['a', 'b']), '5 distinct names'),
    (dict(views=VIEWS[:1], domain_names=['a', 'a']), '2 distinct names'),
])
def test_bad_arguments_are_explained(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TRANSFORMS.build(dict(type='TransformDomains', **kwargs))


def test_an_unpacked_view_is_refused():
    transform = TRANSFORMS.build(
        dict(
            type='TransformDomains',
            views=VIEWS[1:2],
            pack=dict(type='GaussianBlur')))
    with pytest.raises(ValueError, match='PackSegInputs'):
        transform(_sample())
