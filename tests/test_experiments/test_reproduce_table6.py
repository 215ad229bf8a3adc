"""tools/experiments/reproduce_table6.py --quick, end to end on tiny data.

Checks the written table against each run's own validation record
(``vis_data/scalars.json``), read here independently, and the per-domain loss
entries of the transform-domain example configs in their training logs.
"""
import glob
import json
import os.path as osp
import re
import runpy
import statistics
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
EXPERIMENTS = osp.join(REPO, 'tools', 'experiments')
SCRIPT = osp.join(EXPERIMENTS, 'reproduce_table6.py')
CELL = re.compile(r'^(n/a|[+-]?\d+\.\d\d( ± \d+\.\d\d)?)$')
NUM_CLASSES = 19
# The multi-scale experiment's evaluations: full size; half size with bank 1
# and bank 0, as it is and padded like the training view.
DOMAINS = [
    'cityscapes', 'cityscapes-0.5x', 'cityscapes-0.5x-bank0',
    'cityscapes-0.5x-pad', 'cityscapes-0.5x-pad-bank0'
]


def _sections(text):
    """``{heading: [table rows as lists of cells]}`` of a Markdown file."""
    sections, rows = {}, None
    for line in text.splitlines():
        if line.startswith('## '):
            rows = sections.setdefault(line[3:], [])
        elif line.startswith('|') and rows is not None and \
                not line.startswith('|---'):
            rows.append([c.strip() for c in line.strip('|').split('|')])
    return sections


def _section(sections, prefix):
    (rows, ) = [v for k, v in sections.items() if k.startswith(prefix)]
    return rows


def _last_val(work_dir):
    """The final validation record of a run, read from its scalars."""
    (path, ) = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(path) as f:
        records = [json.loads(line) for line in f]
    return [r for r in records if any(k.endswith('mIoU') for k in r)][-1], \
        [r for r in records if 'loss' in r]


def _mean_std(values):
    return f'{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}'


@pytest.mark.slow
def test_quick_table6_writes_a_well_formed_table(synthetic_root, tmp_path):
    out = tmp_path / 'table6'
    result = subprocess.run([
        sys.executable, SCRIPT, '--quick', '--data', synthetic_root, '--out',
        str(out)
    ],
                            capture_output=True,
                            text=True,
                            timeout=600,
                            cwd=str(tmp_path))
    assert result.returncode == 0, \
        result.stdout[-3000:] + result.stderr[-3000:]
    text = (out / 'table.md').read_text()
    assert text in result.stdout
    sections = _sections(text)
    results = json.loads((out / 'results.json').read_text())
    variants = list(results)
    assert len(variants) == 4 and all(len(results[v]) == 2 for v in variants)

    # The paper's layout: runs x classes, mIoU, and the difference rows.
    layout = _section(sections, 'Per-class IoU')
    assert len(layout[0]) == 1 + NUM_CLASSES + 2
    assert [
        row[0] for row in layout
    ] == ['run'
          ] + variants + [f'Δ {v} vs {variants[0]}' for v in variants[1:]]
    # mean ± std per class, compared with the runs' own validation records.
    spread = _section(sections, 'Mean ± std')
    assert spread[0] == ['class'] + variants
    assert len(spread) == 1 + NUM_CLASSES + 1
    for row in spread[1:]:
        assert all(CELL.match(c.strip('*')) for c in row[1:]), row
    for column, variant in enumerate(variants, 1):
        records = [_last_val(r['work_dir'])[0] for r in results[variant]]
        miou = [r['cityscapes/mIoU'] for r in records]
        assert spread[-1][column] == f'**{_mean_std(miou)}**'
        assert layout[column][-2] == f'{statistics.mean(miou):.2f}'
        road = [r['cityscapes/IoU.road'] for r in records]
        assert spread[1][0] == 'road' and spread[1][column] == _mean_std(road)
    # Variant 4: every bank on every domain.
    matrix = _section(sections, 'Bank x domain')
    assert matrix[0][1:] == ['bank 0 (real)', 'bank 1 (rendered)']
    assert [row[0] for row in matrix[1:]
            ] == ['real val (cityscapes)', 'rendered val (gta5)']
    assert all(
        CELL.match(c) and c != 'n/a' for row in matrix[1:] for c in row[1:])
    chart = np.asarray(Image.open(out / 'per_class_iou.png').convert('L'))
    assert chart.shape[1] > 400 and chart.std() > 10


@pytest.mark.slow
def test_quick_multiscale_logs_per_view_losses(synthetic_root, tmp_path,
                                               monkeypatch):
    out = tmp_path / 'multiscale'
    # In this process, as Python runs a script: its folder first on the path.
    monkeypatch.syspath_prepend(EXPERIMENTS)
    main = runpy.run_path(SCRIPT)['main']
    assert main([
        '--quick', '--experiment', 'multiscale', '--variants', '2', '--seeds',
        '1', '--data', synthetic_root, '--out',
        str(out)
    ]) == 0
    results = json.loads((out / 'results.json').read_text())
    assert list(results) == ['CN, 2 views']
    ((run, ), ) = results.values()
    val, train = _last_val(run['work_dir'])
    # Dynamic inference: full size with bank 0, half size with each bank.
    for domain in DOMAINS:
        assert f'{domain}/mIoU' in val
    # Algorithm 1's loss: per-view terms in the log, summing to the loss.
    for record in train:
        terms = {k: v for k, v in record.items() if '.loss_' in k}
        assert set(terms) == {
            f'{head}.loss_ce.{view}'
            for head in ('decode', 'aux')
            for view in ('cityscapes', 'cityscapes-0.5x')
        }
        assert record['loss'] == pytest.approx(sum(terms.values()), rel=1e-5)
    rows = _section(
        _sections((out / 'table.md').read_text()),
        'mIoU (%) by evaluated domain')
    # One seed: each cell is the run's own final mIoU of that domain.
    assert rows == [['variant', *DOMAINS], ['CN, 2 views'] +
                    [f'{val[f"{d}/mIoU"]:.2f}' for d in DOMAINS]]
