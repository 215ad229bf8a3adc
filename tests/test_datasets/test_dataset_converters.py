"""The GTA5 and Cityscapes converters on generated data, faults included."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cn_seg.openmmlab.datasets.converters import cityscapes, gta5
from ..processes import REPO, run_tool
from ..synthetic import raw_domains

# Cityscapes label ids of train ids 0..18 (the datasets' documentation).
TRAIN_LABEL_IDS = [
    7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33
]


def _train_ids(label_ids):
    out = np.full_like(label_ids, 255)
    for train_id, label_id in enumerate(TRAIN_LABEL_IDS):
        out[label_ids == label_id] = train_id
    return out


def _counts(train_ids):
    return [int(np.sum(train_ids == c)) for c in range(19)]


@pytest.fixture(scope='module')
def generated():
    """The session's raw synthetic domains (read only: tests copy them)."""
    return raw_domains(num_train=6, num_val=2)


@pytest.fixture
def gta(generated, tmp_path):
    return Path(shutil.copytree(generated['gta5'], tmp_path / 'gta5'))


@pytest.fixture
def city(generated, tmp_path):
    return Path(shutil.copytree(generated['cityscapes'], tmp_path / 'city'))


def _lines(path):
    return path.read_text().split()


def test_gta5_converts_lists_counts_and_reports_faults(gta, capsys):
    assert gta5.main([str(gta), '--nproc', '2']) == 0
    err = capsys.readouterr().err
    assert '00002: no label labels/00002.png' in err
    assert '00003: label labels/00003.png is 232x128 but its frame' in err
    assert _lines(gta / 'train.txt') == ['00001', '00004', '00005', '00006']
    assert _lines(gta / 'val.txt') == ['00007', '00008']
    assert len((gta / 'faulty_pairs.txt').read_text().splitlines()) == 2
    assert not (gta / 'labels' / '00003_labelTrainIds.png').exists()
    counts = json.loads((gta / 'class_pixel_counts.json').read_text())
    assert counts['classes'][0] == 'road' and len(counts['counts']) == 6
    for name in ['00001', '00004', '00008']:
        raw = np.asarray(Image.open(gta / 'labels' / f'{name}.png'))
        converted = np.asarray(
            Image.open(gta / 'labels' / f'{name}_labelTrainIds.png'))
        np.testing.assert_array_equal(converted, _train_ids(raw))
        assert counts['counts'][f'labels/{name}_labelTrainIds.png'] == \
            _counts(converted)


def test_gta5_is_idempotent_unless_forced(gta, capsys):
    gta5.main([str(gta)])
    out = gta / 'labels' / '00001_labelTrainIds.png'
    os.utime(out, ns=(1, 1))
    assert gta5.main([str(gta)]) == 0
    assert '0 label(s) converted, 6 already done' in capsys.readouterr().out
    assert out.stat().st_mtime_ns == 1
    assert gta5.main([str(gta), '--force']) == 0
    assert '6 label(s) converted' in capsys.readouterr().out
    assert out.stat().st_mtime_ns != 1


def test_gta5_subset_is_reproducible_and_converts_only_itself(gta):
    assert gta5.main([str(gta), '--subset', '3', '--seed', '1']) == 0
    subset = _lines(gta / 'train_subset3_seed1.txt')
    assert len(subset) == 3
    assert set(subset) <= {'00001', '00004', '00005', '00006'}
    assert sorted(p.name[:5] for p in (gta / 'labels').glob('*_labelTr*')) \
        == sorted(subset)
    assert gta5.main([str(gta), '--subset', '3', '--seed', '1']) == 0
    assert _lines(gta / 'train_subset3_seed1.txt') == subset
    draws = set()
    for seed in range(6):
        gta5.main([str(gta), '--subset', '2', '--seed', str(seed)])
        draws.add(tuple(_lines(gta / f'train_subset2_seed{seed}.txt')))
    assert len(draws) > 1
    assert gta5.main([str(gta), '--subset', '5']) == 2  # only 4 valid


def test_gta5_without_split_mat_lists_every_valid_pair(gta):
    (gta / 'split.mat').unlink()
    assert gta5.main([str(gta)]) == 0
    assert len(_lines(gta / 'train.txt')) == 6
    assert not (gta / 'val.txt').exists()


def test_cityscapes_converts_label_ids_or_polygons_alike(city, tmp_path):
    assert cityscapes.main([str(city)]) == 0
    train = _lines(city / 'train.txt')
    assert len(train) == 6 and train[0] == 'aachen/aachen_000000_000019'
    assert len(_lines(city / 'val.txt')) == 2
    counts = json.loads((city / 'class_pixel_counts.json').read_text())
    gt = city / 'gtFine' / 'train' / 'aachen'
    raw = np.asarray(
        Image.open(gt / 'aachen_000000_000019_gtFine_labelIds.png'))
    converted = np.asarray(
        Image.open(gt / 'aachen_000000_000019_gtFine_labelTrainIds.png'))
    np.testing.assert_array_equal(converted, _train_ids(raw))
    key = 'gtFine/train/aachen/aachen_000000_000019_gtFine_labelTrainIds.png'
    assert counts['counts'][key] == _counts(converted)

    polygons_only = Path(shutil.copytree(city, tmp_path / 'polygons'))
    for path in polygons_only.glob('gtFine/*/*/*'):
        if not path.name.endswith('_polygons.json'):
            path.unlink()
    assert cityscapes.main([str(polygons_only)]) == 0
    for path in city.glob('gtFine/*/*/*_labelTrainIds.png'):
        other = polygons_only / path.relative_to(city)
        np.testing.assert_array_equal(
            np.asarray(Image.open(other)), np.asarray(Image.open(path)))


def test_cityscapes_faults_are_reported_and_left_out(city, capsys):
    gt = city / 'gtFine' / 'train'
    for suffix in ('labelIds.png', 'polygons.json'):
        (gt / 'bremen' / f'bremen_000000_000019_gtFine_{suffix}').unlink()
    small = gt / 'zurich' / 'zurich_000000_000019_gtFine_labelIds.png'
    Image.open(small).resize((100, 50)).save(small)
    (gt / 'aachen' / 'aachen_000001_000019_gtFine_labelIds.png').unlink()
    polygons = gt / 'aachen' / 'aachen_000001_000019_gtFine_polygons.json'
    annotation = json.loads(polygons.read_text())
    polygons.write_text(json.dumps(dict(annotation, imgWidth=512)))
    assert cityscapes.main([str(city)]) == 0
    err = capsys.readouterr().err
    assert 'train/bremen/bremen_000000_000019: no annotation' in err
    assert 'train/zurich/zurich_000000_000019: label' in err
    assert '100x50' in err and '512x128' in err
    assert len(_lines(city / 'train.txt')) == 3
    assert cityscapes.main([str(city)]) == 0
    assert '0 label(s) converted, 5 already done, 3 faulty' in \
        capsys.readouterr().out


@pytest.mark.parametrize('tool, make, missing', [
    ('gta5', ['images'], 'labels'),
    ('cityscapes', ['leftImg8bit/train', 'gtFine'], 'gtFine/train'),
])
def test_bad_layout_exits_2_naming_what_is_missing(tmp_path, capsys,
                                                   monkeypatch, tool, make,
                                                   missing):
    for folder in make:
        (tmp_path / folder).mkdir(parents=True)
    assert run_tool(f'dataset_converters/{tool}.py', tmp_path) == 2
    assert f'missing {tmp_path / missing}' in capsys.readouterr().err


def test_converters_themselves_import_neither_torch_nor_mmseg():
    # ``cn_seg/__init__.py`` imports torch and mmseg to fill the registries;
    # empty stand-ins for the two packages show what the converters import.
    code = f"""
import sys, types
for name in ('cn_seg', 'cn_seg.openmmlab', 'cn_seg.openmmlab.datasets'):
    sys.modules[name] = types.ModuleType(name)
    sys.modules[name].__path__ = [{str(REPO)!r} + '/' + name.replace('.', '/')]
from cn_seg.openmmlab.datasets.converters import cityscapes, gta5, synthia
heavy = {{'torch', 'mmseg', 'mmcv'}}
print(sorted({{m.split('.')[0] for m in sys.modules}} & heavy))
"""
    out = subprocess.run([sys.executable, '-c', code],
                         check=True,
                         capture_output=True,
                         text=True).stdout
    assert out.strip() == '[]'
