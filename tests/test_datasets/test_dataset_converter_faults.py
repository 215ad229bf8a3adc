"""Converter faults: unreadable files, odd labels, interrupted and new runs."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from cn_seg.openmmlab.datasets.converters import cityscapes, gta5
from .test_dataset_converters import city  # noqa: F401
from .test_dataset_converters import _lines, _train_ids, generated, gta

FRAME_0 = 'aachen/aachen_000000_000019'


def _cut(path, keep):
    """Keep the first ``keep`` bytes of a file (a PNG header is 33)."""
    path.write_bytes(path.read_bytes()[:keep])


def _half(path):
    _cut(path, path.stat().st_size // 2)


def _broken_header(path):
    _cut(path, 20)


def _without_end(path):
    _cut(path, path.stat().st_size - 16)  # IEND and the last CRC: PIL decodes


def _garbage(path):
    path.write_bytes(b'not an image at all')


def _folder(path):
    path.unlink()
    path.mkdir()


def _no_permission(path):
    path.chmod(0)


@pytest.mark.parametrize('path, damage, nproc', [
    ('labels/00004.png', _half, 1),
    ('labels/00004.png', _garbage, 2),
    ('labels/00004.png', _folder, 1),
    pytest.param(
        'labels/00004.png',
        _no_permission,
        1,
        marks=pytest.mark.skipif(
            os.geteuid() == 0, reason='root reads any file')),
    ('images/00004.png', _half, 1),
    ('images/00004.png', _broken_header, 2),
    ('images/00004.png', _without_end, 1),
])
def test_gta5_unreadable_file_is_a_faulty_pair_and_the_run_goes_on(
        gta, capsys, path, damage, nproc):
    damage(gta / path)
    assert gta5.main([str(gta), '--nproc', str(nproc)]) == 0
    kind = 'label' if path.startswith('labels') else 'frame'
    line = f'00004: unreadable {kind} {path}: '
    assert line in capsys.readouterr().err
    assert line in (gta / 'faulty_pairs.txt').read_text()
    assert _lines(gta / 'train.txt') == ['00001', '00005', '00006']
    assert not (gta / 'labels' / '00004_labelTrainIds.png').exists()
    assert (gta / 'labels' / '00005_labelTrainIds.png').exists()


def test_gta5_subset_is_drawn_from_pairs_that_decode(gta):
    _half(gta / 'images' / '00004.png')
    assert gta5.main([str(gta), '--subset', '3', '--seed', '0']) == 0
    assert _lines(gta / 'train_subset3_seed0.txt') == \
        ['00001', '00005', '00006']


@pytest.mark.parametrize('damage', [_broken_header, _half])
def test_cityscapes_unreadable_frame_is_reported_as_a_frame(
        city, capsys, damage):
    frame = f'leftImg8bit/train/{FRAME_0}_leftImg8bit.png'
    damage(city / frame)
    assert cityscapes.main([str(city)]) == 0
    err = capsys.readouterr().err
    assert f'train/{FRAME_0}: unreadable frame {frame}: ' in err
    assert 'annotation' not in err
    assert FRAME_0 not in _lines(city / 'train.txt')
    assert len(_lines(city / 'train.txt')) == 5


def _relabel(path, edit):
    """Rewrite a palette label with ``edit(ids)`` applied; return the ids."""
    with Image.open(path) as img:
        palette, ids = img.getpalette(), np.asarray(img).copy()
    edit(ids)
    out = Image.frombytes('P', ids.shape[::-1], ids.tobytes())
    out.putpalette(palette)
    out.save(path)
    return ids


def _every_20th(ids):
    ids.reshape(-1)[::20] = 200  # 5% of the pixels


def _one_pixel(ids):
    ids[0, 0] = 200


def _car_on_top(ids):
    ids[:10] = 26


def test_gta5_label_mostly_outside_the_table_is_faulty(gta, capsys):
    ids = _relabel(gta / 'labels' / '00004.png', _every_20th)
    assert gta5.main([str(gta)]) == 0
    share = np.mean(ids == 200)
    assert 0.04 < share < 0.06
    fault = (gta / 'faulty_pairs.txt').read_text()
    assert f'00004: label labels/00004.png: {share:.1%} of its pixels hold ' \
        'ids outside the Cityscapes table (200;' in fault
    assert '00004' not in _lines(gta / 'train.txt')
    assert not (gta / 'labels' / '00004_labelTrainIds.png').exists()


def test_gta5_labels_with_few_unknown_ids_or_no_class_are_kept_and_reported(
        gta, capsys):
    ids = _relabel(gta / 'labels' / '00004.png', _one_pixel)
    _relabel(gta / 'labels' / '00005.png', lambda ids: ids.fill(0))
    assert gta5.main([str(gta)]) == 0
    err = capsys.readouterr().err
    assert '2 pair(s) kept with a warning' in err
    warnings = (gta / 'label_warnings.txt').read_text().splitlines()
    assert warnings[0].startswith(
        f'00004: label labels/00004.png: {1 / ids.size:.2%} of its pixels '
        'hold ids outside the Cityscapes table (200)')
    assert warnings[1] == ('00005: label labels/00005.png has no pixel of '
                           'the 19 classes: all of it is ignored in training')
    assert _lines(gta / 'train.txt') == ['00001', '00004', '00005', '00006']
    converted = np.asarray(
        Image.open(gta / 'labels' / '00004_labelTrainIds.png'))
    np.testing.assert_array_equal(converted, _train_ids(ids))
    assert converted[0, 0] == 255


def test_cityscapes_test_annotations_without_classes_are_not_reported(
        city, capsys):
    # Cityscapes ships test annotations holding only the ego vehicle.
    os.rename(city / 'leftImg8bit' / 'val', city / 'leftImg8bit' / 'test')
    os.rename(city / 'gtFine' / 'val', city / 'gtFine' / 'test')
    for path in (city / 'gtFine' / 'test').glob('*/*_labelIds.png'):
        Image.fromarray(np.full((128, 256), 1, np.uint8)).save(path)
    path = city / 'gtFine' / 'train' / f'{FRAME_0}_gtFine_labelIds.png'
    Image.fromarray(np.full((128, 256), 1, np.uint8)).save(path)
    assert cityscapes.main([str(city)]) == 0
    assert (city / 'label_warnings.txt').read_text().splitlines() == [
        f'train/{FRAME_0}: label gtFine/train/{FRAME_0}_gtFine_labelIds.png '
        'has no pixel of the 19 classes: all of it is ignored in training'
    ]
    assert len(_lines(city / 'test.txt')) == 2


def test_corrupt_counts_file_is_named_and_rewritten(gta, capsys):
    counts = gta / 'class_pixel_counts.json'
    counts.write_text('{"classes": ["road", "sidew')  # a killed write
    assert gta5.main([str(gta)]) == 0
    assert f'warning: {counts} is unreadable' in capsys.readouterr().err
    written = json.loads(counts.read_text())
    assert len(written['counts']) == 6 and written['classes'][0] == 'road'


def test_lists_and_counts_are_replaced_not_written_in_place(gta):
    assert gta5.main([str(gta)]) == 0
    names = [
        'train.txt', 'val.txt', 'class_pixel_counts.json', 'faulty_pairs.txt'
    ]
    before = {}
    for name in names:  # a link keeps the old file alive, inode included
        os.link(gta / name, gta / f'{name}.old')
        before[name] = (gta / name).read_bytes()
    assert gta5.main([str(gta)]) == 0
    for name in names:
        assert (gta / f'{name}.old').read_bytes() == before[name]
        assert (gta / name).stat().st_ino != \
            (gta / f'{name}.old').stat().st_ino
        assert (gta / name).read_bytes() == before[name]


def test_pair_failing_in_one_process_is_listed_and_counted_once(gta, capsys):
    label = gta / 'labels' / '00004.png'
    Image.open(label).convert('RGB').save(label)  # right size, not ids
    assert gta5.main([str(gta), '--nproc', '1']) == 0
    faults = (gta / 'faulty_pairs.txt').read_text().splitlines()
    assert [f.split(':')[0] for f in faults] == ['00002', '00003', '00004']
    assert 'is a RGB image; expected label ids' in faults[2]
    assert '0 already done, 3 faulty' in capsys.readouterr().out


def test_leftover_temporary_files_are_not_pairs(gta, capsys):
    (gta / 'split.mat').unlink()  # pairs are then what the folders hold
    labels = gta / 'labels'
    (labels / '00001_labelTrainIds.png.tmp.png').write_bytes(b'old')
    (labels / '00004_labelTrainIds.png.tmp').write_bytes(b'new')
    (gta / 'images' / '._00005.png').write_bytes(b'macOS metadata')
    assert gta5.main([str(gta)]) == 0
    assert len((gta / 'faulty_pairs.txt').read_text().splitlines()) == 2
    assert '6 label(s) converted, 0 already done, 2 faulty' in \
        capsys.readouterr().out


def test_source_label_changed_after_conversion_is_converted_again(gta, capsys):
    assert gta5.main([str(gta)]) == 0
    kept = gta / 'labels' / '00005_labelTrainIds.png'
    os.utime(kept, ns=(1, 1))
    source = gta / 'labels' / '00004.png'
    ids = _relabel(source, _car_on_top)
    os.utime(source, ns=(1, 1))  # older than its output: times do not tell
    capsys.readouterr()
    assert gta5.main([str(gta)]) == 0
    assert ('1 label(s) converted (1 replacing an output that no longer '
            'matched its source), 5 already done') in capsys.readouterr().out
    np.testing.assert_array_equal(
        np.asarray(Image.open(gta / 'labels' / '00004_labelTrainIds.png')),
        _train_ids(ids))
    assert kept.stat().st_mtime_ns == 1
