"""The synthetic domains: exact layouts, faults, determinism, domain gap."""
import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from cn_seg.openmmlab.datasets.converters.polygons import read_polygons
from cn_seg_workbench.synthetic import make_synthetic_domains
from ..processes import run_tool
from ..test_datasets.synthetic_data import \
    DOCUMENTED_TRAIN_LABEL_IDS as TRAIN_LABEL_IDS

LABEL_IDS = set(range(34))


def _digest(root: Path):
    return {
        str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob('*')) if p.is_file()
    }


def test_tool_writes_the_official_layouts(tmp_path, monkeypatch):
    assert run_tool('make_synthetic_domains.py', '--out', tmp_path,
                    '--num-train', 4, '--num-val', 3) == 0
    city, gta = tmp_path / 'cityscapes', tmp_path / 'gta5'
    frames = sorted(
        p.relative_to(city).as_posix() for p in city.glob('leftImg8bit/*/*/*'))
    assert frames[0] == \
        'leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png'
    assert len(frames) == 7
    assert {p.split('/')[2] for p in frames if '/val/' in p} == \
        {'frankfurt', 'lindau', 'munster'}
    for frame in frames:
        stem = frame.replace('leftImg8bit', 'gtFine',
                             1)[:-len('_leftImg8bit.png')]
        ids = Image.open(city / f'{stem}_gtFine_labelIds.png')
        assert Image.open(city / frame).size == ids.size == (256, 128)
        assert set(np.unique(ids)) <= LABEL_IDS
        # the polygons describe the label-id image exactly
        np.testing.assert_array_equal(
            read_polygons(str(city / f'{stem}_gtFine_polygons.json')),
            np.asarray(ids))
    assert sorted(p.name for p in gta.glob('images/*')) == \
        [f'{i:05d}.png' for i in range(1, 8)]
    labels = sorted(p.name for p in gta.glob('labels/*'))
    assert '00002.png' not in labels and len(labels) == 6
    label = Image.open(gta / 'labels' / '00001.png')
    assert label.mode == 'P' and label.size == (240, 132)
    assert Image.open(gta / 'images' / '00001.png').size == (240, 132)
    assert Image.open(gta / 'labels' / '00003.png').size != (240, 132)
    from scipy.io import loadmat
    split = loadmat(str(gta / 'split.mat'))
    assert split['trainIds'].ravel().tolist() == [1, 2, 3, 4]
    assert split['valIds'].ravel().tolist() == [5, 6, 7]


def test_same_seed_same_files_other_seed_other_scenes(tmp_path):
    a = make_synthetic_domains(
        str(tmp_path / 'a'), seed=1, num_train=3, num_val=1)
    b = make_synthetic_domains(
        str(tmp_path / 'b'), seed=1, num_train=3, num_val=1)
    c = make_synthetic_domains(
        str(tmp_path / 'c'), seed=2, num_train=3, num_val=1)
    for domain in ('cityscapes', 'gta5'):
        assert _digest(Path(a[domain])) == _digest(Path(b[domain]))
        assert _digest(Path(a[domain])) != _digest(Path(c[domain]))
    with pytest.raises(ValueError, match='at least 3 training frames'):
        make_synthetic_domains(str(tmp_path / 'd'), num_train=2)


def test_files_do_not_depend_on_the_clock(tmp_path, monkeypatch):
    """scipy writes the time into split.mat's header: two runs a second
    apart must still write the same bytes."""
    import time
    runs = []
    for i, stamp in enumerate(
        ('Thu Dec  3 10:00:00 2026', 'Fri Dec  4 11:11:11 2026')):
        monkeypatch.setattr(time, 'asctime', lambda *a, s=stamp: s)
        runs.append(
            make_synthetic_domains(
                str(tmp_path / str(i)), seed=1, num_train=3, num_val=1))
    assert _digest(Path(runs[0]['gta5'])) == _digest(Path(runs[1]['gta5']))


def test_tool_refuses_too_few_frames(tmp_path, monkeypatch, capsys):
    assert run_tool('make_synthetic_domains.py', '--out', tmp_path,
                    '--num-train', 2) == 2
    assert 'at least 3 training frames' in capsys.readouterr().err


def test_shared_classes_different_appearance(tmp_path):
    roots = make_synthetic_domains(str(tmp_path), num_train=12, num_val=0)
    city, gta = Path(roots['cityscapes']), Path(roots['gta5'])
    stats = {}
    for domain, images, labels in (
        ('real', sorted(city.glob('leftImg8bit/train/*/*.png')),
         sorted(city.glob('gtFine/train/*/*_labelIds.png'))),
        ('rendered', sorted(gta.glob('images/*.png')), [
            gta / 'labels' / p.name for p in sorted(gta.glob('images/*'))
            if p.name not in ('00002.png', '00003.png')
        ])):
        present = set()
        for path in labels:
            present |= set(np.unique(np.asarray(Image.open(path))).tolist())
        assert set(TRAIN_LABEL_IDS) <= present, domain  # all 19 classes
        imgs = [cv2.imread(str(p)) for p in images]
        grey = [cv2.cvtColor(i, cv2.COLOR_BGR2GRAY) for i in imgs]
        hsv = [cv2.cvtColor(i, cv2.COLOR_BGR2HSV) for i in imgs]
        stats[domain] = dict(
            brightness=np.mean([g.mean() for g in grey]),
            saturation=np.mean([h[..., 1].mean() for h in hsv]),
            sharpness=np.mean(
                [cv2.Laplacian(g, cv2.CV_64F).var() for g in grey]))
    for key in ('brightness', 'saturation', 'sharpness'):
        assert stats['rendered'][key] > 1.2 * stats['real'][key], key
