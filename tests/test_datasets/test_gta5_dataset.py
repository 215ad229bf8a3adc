"""GTA5Dataset on converted synthetic GTA5 data."""
import re

import numpy as np
import pytest
from mmseg.registry import DATASETS
from PIL import Image

from .synthetic_data import (DOCUMENTED_TRAIN_LABEL_IDS, NUM_TRAIN, gta5_cfg,
                             label_path)


def test_reads_the_listed_pairs_with_train_ids(synthetic):
    dataset = DATASETS.build(gta5_cfg(synthetic['gta5']))
    # frames 00002 (no label) and 00003 (wrong size) are left out
    names = [
        d['img_path'][-9:-4]
        for d in (dataset.get_data_info(i) for i in range(len(dataset)))
    ]
    assert len(dataset) == NUM_TRAIN - 2
    assert '00002' not in names and '00003' not in names
    assert dataset.metainfo['classes'][0] == 'road'
    assert len(dataset.metainfo['classes']) == 19

    sample = dataset[0]
    gt = sample['data_samples'].gt_sem_seg.data.numpy()[0]
    raw = np.asarray(Image.open(label_path(synthetic['gta5'], names[0])))
    expected = np.full_like(raw, 255)
    for train_id, label_id in enumerate(DOCUMENTED_TRAIN_LABEL_IDS):
        expected[raw == label_id] = train_id
    np.testing.assert_array_equal(gt, expected)
    assert sample['inputs'].shape == (3, *raw.shape)
    assert (gt < 19).mean() > 0.5


def test_empty_folder_or_list_is_refused_by_name(synthetic, tmp_path):
    (tmp_path / 'images').mkdir()
    cfg = dict(gta5_cfg(str(tmp_path)), ann_file='')  # scan the folder
    with pytest.raises(
            ValueError,
            match=re.escape(f"GTA5Dataset has no sample: its img_path folder "
                            f"{tmp_path / 'images'} holds no '*.png' file")):
        DATASETS.build(cfg)
    (tmp_path / 'train.txt').write_text('')
    with pytest.raises(
            ValueError,
            match=re.escape(
                f"its ann_file {tmp_path / 'train.txt'} lists no sample")):
        DATASETS.build(gta5_cfg(str(tmp_path)))
