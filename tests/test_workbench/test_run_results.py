"""Reading runs' final evaluations and writing the comparison table."""
import json

import matplotlib.image as mpimg
import numpy as np
import pytest

from cn_seg_workbench.analysis.results_table import bar_chart, markdown_table
from cn_seg_workbench.analysis.run_results import read_run

CLASSES = ['road', 'sidewalk', 'wall']


def _metrics(domain, ious, **extra):
    metrics = {f'{domain}/mIoU': round(float(np.nanmean(ious)), 2)}
    metrics.update({f'{domain}/IoU.{c}': v for c, v in zip(CLASSES, ious)})
    metrics.update(extra)
    return metrics


def _write_val(work_dir, stamp, records):
    folder = work_dir / stamp / 'vis_data'
    folder.mkdir(parents=True)
    (folder / 'scalars.json').write_text(''.join(
        json.dumps(r) + '\n' for r in records))


def _write_test(work_dir, stamp, metrics):
    folder = work_dir / stamp
    folder.mkdir(parents=True)
    (folder / f'{stamp}.json').write_text(json.dumps(metrics))


def test_last_validation_without_test(tmp_path):
    _write_val(tmp_path, '20260101_000000', [
        dict(lr=0.01, loss=1.0, step=1),
        dict(_metrics('cityscapes', [10.0, 20.0, 30.0]), step=2),
        dict(lr=0.005, step=3),
        dict(_metrics('cityscapes', [40.0, 50.0, 60.0]), step=4),
    ])
    run = read_run(str(tmp_path), name='bn')
    assert run.class_iou == dict(zip(CLASSES, [40.0, 50.0, 60.0]))
    assert run.miou == 50.0 and run.step == 4 and run.domain == 'cityscapes'


def test_newest_test_result_wins(tmp_path):
    _write_val(tmp_path, '20260101_000000',
               [dict(_metrics('cityscapes', [1.0, 2.0, 3.0]), step=9)])
    _write_test(tmp_path, '20260101_000100',
                _metrics('cityscapes', [4.0, 5.0, 6.0]))
    _write_test(
        tmp_path, '20260101_000200', {
            **_metrics('cityscapes', [70.0, 80.0, 90.0]),
            **_metrics('gta5', [7.0, 8.0, 9.0])
        })
    run = read_run(str(tmp_path))
    assert run.class_iou['road'] == 70.0 and run.step is None
    assert read_run(str(tmp_path), domain='gta5').miou == 8.0
    with pytest.raises(ValueError, match="no per-class IoU of domain 'x'"):
        read_run(str(tmp_path), domain='x')


def test_missing_or_summary_only_results_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='no evaluation'):
        read_run(str(tmp_path))
    _write_test(tmp_path, '20260101_000000', {'mIoU': 50.0, 'aAcc': 90.0})
    with pytest.raises(ValueError, match='MultiDomainIoUMetric'):
        read_run(str(tmp_path))


def test_table_and_chart(tmp_path):
    runs = []
    for name, ious in (('bn', [50.0, 40.0,
                               float('nan')]), ('cn', [55.5, 39.0, 12.0])):
        work_dir = tmp_path / name
        _write_test(work_dir, '20260101_000000', _metrics('cityscapes', ious))
        runs.append(read_run(str(work_dir)))
    lines = markdown_table(runs).splitlines()
    assert lines[0] == ('| run | road | sidewalk | wall | mIoU | '
                        'Δ mIoU vs bn |')
    assert lines[1] == '|---|---:|---:|---:|---:|---:|'
    assert lines[2] == '| bn | 50.00 | 40.00 | n/a | 45.00 | +0.00 |'
    assert lines[3] == '| cn | 55.50 | 39.00 | 12.00 | 35.50 | -9.50 |'
    assert lines[4] == '| Δ cn vs bn | +5.50 | -1.00 | n/a | -9.50 |  |'
    chart = bar_chart(runs, str(tmp_path / 'chart.png'))
    assert mpimg.imread(chart)[..., :3].std() > 0.05


def test_runs_on_different_classes_are_refused(tmp_path):
    _write_test(tmp_path / 'a', '20260101_000000',
                _metrics('cityscapes', [1.0, 2.0, 3.0]))
    _write_test(tmp_path / 'b', '20260101_000000', {
        'cityscapes/mIoU': 1.0,
        'cityscapes/IoU.sky': 1.0
    })
    runs = [read_run(str(tmp_path / 'a')), read_run(str(tmp_path / 'b'))]
    with pytest.raises(ValueError, match='different classes'):
        markdown_table(runs)
