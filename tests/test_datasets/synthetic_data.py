"""Dataset configs over the shared synthetic domains (tests/synthetic.py)."""
import os.path as osp

from ..synthetic import NUM_TRAIN, NUM_VAL  # noqa: F401  (frames per split)

#: Label ids of train ids 0..18, as the Cityscapes and GTA5 documentation
#: lists them: the tests' independent reference for the converters' table.
DOCUMENTED_TRAIN_LABEL_IDS = [
    7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33
]


def cityscapes_cfg(root, split='train', pipeline=None, **kwargs):
    """A CityscapesDataset config over the synthetic real domain."""
    return dict(
        type='CityscapesDataset',
        data_root=root,
        ann_file=f'{split}.txt',
        data_prefix=dict(
            img_path=f'leftImg8bit/{split}', seg_map_path=f'gtFine/{split}'),
        pipeline=pipeline or load_pipeline(),
        **kwargs)


def gta5_cfg(root, split='train', pipeline=None, **kwargs):
    """A GTA5Dataset config over the synthetic rendered domain."""
    return dict(
        type='GTA5Dataset',
        data_root=root,
        ann_file=f'{split}.txt',
        data_prefix=dict(img_path='images', seg_map_path='labels'),
        pipeline=pipeline or load_pipeline(),
        **kwargs)


def load_pipeline(crop=None, meta_keys=None):
    """Load, optionally crop, and pack (with mmseg's default meta keys)."""
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]
    if crop:
        pipeline.append(dict(type='RandomCrop', crop_size=crop))
    pack = dict(type='PackSegInputs')
    if meta_keys:
        pack['meta_keys'] = meta_keys
    return pipeline + [pack]


def label_path(root, name):
    """Path of a synthetic GTA5 raw label."""
    return osp.join(root, 'labels', name + '.png')
