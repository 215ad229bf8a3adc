"""The views of a sample land in the same batch through a real DataLoader."""
import numpy as np
from mmengine.runner import Runner
from mmseg.models import SegDataPreProcessor
from PIL import Image

from cn_seg.openmmlab.datasets.transforms import multi_view_collate

NUM_FRAMES, H, W = 5, 32, 64


def _write_frames(root):
    (root / 'img').mkdir()
    (root / 'ann').mkdir()
    rng = np.random.default_rng(0)
    for i in range(NUM_FRAMES):
        Image.fromarray(rng.integers(0, 256, (H, W, 3)).astype(np.uint8)).save(
            root / 'img' / f'{i}.png')
        Image.fromarray(rng.integers(0, 19, (H, W)).astype(np.uint8)).save(
            root / 'ann' / f'{i}.png')


def _dataloader(root, batch_size):
    views = [[
        dict(type='Resize', scale_factor=0.5, keep_ratio=True),
        dict(type='Pad', size=(W, H))
    ], [dict(type='GaussianBlur', sigma=1.0)]]
    return Runner.build_dataloader(
        dict(
            batch_size=batch_size,
            num_workers=1,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='multi_view_collate'),
            dataset=dict(
                type='BaseSegDataset',
                data_root=str(root),
                data_prefix=dict(img_path='img', seg_map_path='ann'),
                img_suffix='.png',
                seg_map_suffix='.png',
                metainfo=dict(classes=[str(c) for c in range(19)]),
                pipeline=[
                    dict(type='LoadImageFromFile'),
                    dict(type='LoadAnnotations'),
                    dict(
                        type='TransformDomains',
                        views=views,
                        domain_names=['full', 'half', 'blur'])
                ])),
        seed=0)


def test_views_of_a_sample_are_adjacent_in_one_batch(tmp_path):
    _write_frames(tmp_path)
    preprocessor = SegDataPreProcessor(size=(H, W))
    seen = []
    for batch in _dataloader(tmp_path, batch_size=2):
        samples = batch['data_samples']
        assert len(samples) == len(batch['inputs']) and len(samples) % 3 == 0
        for i in range(0, len(samples), 3):
            group = samples[i:i + 3]
            assert [s.domain_idx for s in group] == [0, 1, 2]
            assert [s.domain_name for s in group] == ['full', 'half', 'blur']
            assert len({s.img_path for s in group}) == 1
            seen.append(group[0].img_path)
        stacked = preprocessor(batch, training=True)
        assert stacked['inputs'].shape == (len(samples), 3, H, W)
    # One epoch: every frame once, each with all its views.
    assert sorted(seen) == sorted(
        str(tmp_path / 'img' / f'{i}.png') for i in range(NUM_FRAMES))


def test_plain_samples_pass_unchanged():
    batch = multi_view_collate([[dict(a=1), dict(a=2)], dict(a=3)])
    assert batch == dict(a=[1, 2, 3])
