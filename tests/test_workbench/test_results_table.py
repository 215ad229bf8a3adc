"""The comparison table (classes as rows) and chart (NaN drawn as missing)."""
import math

import numpy as np
import pytest

from cn_seg_workbench.analysis.figures import pyplot
from cn_seg_workbench.analysis.results_table import bar_figure, class_table
from cn_seg_workbench.analysis.run_results import RunResult

CLASSES = ['road', 'sidewalk', 'wall', 'sky']
NAN = float('nan')


def _run(name, ious):
    return RunResult(
        name=name,
        domain='cityscapes',
        class_iou=dict(zip(CLASSES, ious)),
        miou=float(np.nanmean(ious)),
        source=f'{name}.json')


RUNS = [
    _run('BN', [50.0, 40.0, NAN, 0.0]),
    _run('CN', [55.5, 39.0, 12.0, 0.0]),
    _run('CN+', [60.0, NAN, 10.0, 5.0])
]


def _rows(table):
    return [[c.strip() for c in line.strip().strip('|').split('|')]
            for line in table.strip().splitlines()]


def test_class_table_has_classes_as_rows_and_delta_columns():
    header, rule, *rows = _rows(class_table(RUNS))
    assert header == ['class', 'BN', 'CN', 'CN+', 'Δ CN vs BN', 'Δ CN+ vs BN']
    assert rule == ['---'] + ['---:'] * 5
    assert [row[0] for row in rows] == CLASSES + ['mIoU']
    assert rows[0] == ['road', '50.00', '55.50', '60.00', '+5.50', '+10.00']
    assert rows[1] == ['sidewalk', '40.00', '39.00', 'n/a', '-1.00', 'n/a']
    assert rows[2] == ['wall', 'n/a', '12.00', '10.00', 'n/a', 'n/a']
    assert rows[3] == ['sky', '0.00', '0.00', '5.00', '+0.00', '+5.00']
    miou = [np.nanmean(list(r.class_iou.values())) for r in RUNS]
    assert rows[4] == ['mIoU'] + [f'{m:.2f}' for m in miou] + [
        f'{m - miou[0]:+.2f}' for m in miou[1:]
    ]


def test_class_table_of_one_run_has_no_delta_column():
    header, _, *rows = _rows(class_table(RUNS[:1]))
    assert header == ['class', 'BN'] and len(rows) == len(CLASSES) + 1


def _bar_heights(ax, num_runs, num_groups):
    """Bar heights as (run, group), in drawing order."""
    heights = [p.get_height() for p in ax.patches]
    assert len(heights) == num_runs * num_groups
    return np.array(heights).reshape(num_runs, num_groups)


def _na_marks(ax):
    return sorted(
        round(t.get_position()[0], 6) for t in ax.texts
        if t.get_text() == 'n/a')


def test_chart_draws_nan_as_missing_and_a_panel_of_differences():
    fig = bar_figure(RUNS)
    try:
        top, bottom = fig.axes
        groups = len(CLASSES) + 1
        heights = _bar_heights(top, 3, groups)
        expected = np.array(
            [list(r.class_iou.values()) + [r.miou] for r in RUNS])
        np.testing.assert_array_equal(heights, expected)  # NaN stays NaN
        # One 'n/a' mark per NaN, at its bar; none for the IoU of 0.
        centres = [p.get_x() + p.get_width() / 2 for p in top.patches]
        nan_at = [
            round(c, 6) for c, h in zip(centres, heights.ravel())
            if math.isnan(h)
        ]
        assert _na_marks(top) == sorted(nan_at) and len(nan_at) == 2
        deltas = _bar_heights(bottom, 2, groups)
        np.testing.assert_allclose(deltas, expected[1:] - expected[0])
        assert len(_na_marks(bottom)) == 3  # wall twice, sidewalk once
        assert top.get_shared_x_axes().joined(top, bottom)
        assert 'Δ IoU vs BN' in bottom.get_ylabel()
    finally:
        pyplot().close(fig)


def test_chart_of_one_run_has_one_panel():
    fig = bar_figure(RUNS[:1])
    try:
        assert len(fig.axes) == 1
    finally:
        pyplot().close(fig)


def test_different_classes_are_refused():
    other = RunResult('x', 'cityscapes', {'sky': 1.0}, 1.0, 'x.json')
    with pytest.raises(ValueError, match='different classes'):
        class_table([RUNS[0], other])
