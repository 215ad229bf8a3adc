"""``make demo``: its stages, its failure report and its summary.

tools/demo.sh runs here with a stand-in for Python that answers each tool
like the real one in a few lines (the real run takes minutes; the tools
themselves are tested elsewhere); tools/demo_summary.py reads test results
written here with known values.
"""
import json
import os
import os.path as osp
import re
import runpy
import subprocess
import sys

import pytest

from ..processes import REPO, TOOLS

MATRIX = osp.join(
    REPO, 'configs', 'demo',
    'cn_deeplabv3_r18-d8_1xb4-400_synthetic-cs+gta5-64x128_bank-matrix.py')
# Stands in for Python: each tool's output as mmengine and the tools print
# it; the training prints its progress over 2 s.
FAKE_PYTHON = r"""#!/usr/bin/env bash
case "$1" in
  *train.py)
    work_dir=$4
    mkdir -p "$work_dir"
    echo "hook table"; echo "config dump"
    for i in 100 200; do
      echo "12/03 10:00:00 - mmengine - INFO - Iter(train) [$i/400]" \
        " lr: 1e-2  eta: 0:00:0${i:0:1}  time: 0.1"
      sleep 1.2
    done
    echo "$work_dir/iter_400.pth" > "$work_dir/last_checkpoint" ;;
  *compare_runs.py) echo "| run | road | mIoU |"
                    echo "| BN | 1.00 | 1.00 |" ;;
  *demo_summary.py) echo "SUMMARY: $*" ;;
  *) echo "$1 ran" ;;
esac
if [ -n "${FAIL_ON:-}" ] && [[ $1 == *$FAIL_ON* ]]; then
  echo "Traceback: boom in $1" >&2
  exit 3
fi
"""


def _demo(tmp_path, **env):
    python = tmp_path / 'python'
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    env = dict(
        os.environ, PYTHON=str(python), WORK_DIR=str(tmp_path / 'demo'), **env)
    return subprocess.run(['bash', osp.join(TOOLS, 'demo.sh')],
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=120,
                          stdin=subprocess.DEVNULL)


def test_demo_prints_a_line_per_stage_and_the_results(tmp_path):
    proc = _demo(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    done = [line for line in lines if line.endswith('.log)')]
    assert len(done) == 9  # data, BN (2), CN (3), features, compare, summary
    assert f'(log: {tmp_path}/demo/logs/data.log)' in proc.stdout
    assert len(lines) < 40
    logs = tmp_path / 'demo' / 'logs'
    assert f'Train BN ({osp.join("configs", "demo")}' in proc.stdout
    assert f'(log: {logs}/train_cn.log)' in proc.stdout
    assert 'hook table' not in proc.stdout  # kept in the log
    assert 'hook table' in (logs / 'train_bn.log').read_text()
    for run in ('BN', 'CN'):  # progress, every 100 iterations off a TTY
        for i in (1, 2):
            assert re.search(
                rf'\] Train {run} .*: iter {i}00/400, eta '
                rf'0:00:0{i}$', proc.stdout, re.M)
    # The bank matrix is evaluated with the CN checkpoint and summarized.
    matrix_log = (logs / 'test_cn_bank_matrix.log').read_text()
    assert matrix_log == 'tools/test.py ran\n'
    assert f'--bank-matrix {osp.relpath(MATRIX, REPO)} ' in proc.stdout
    assert '| BN | 1.00 | 1.00 |' in proc.stdout
    features = (logs / 'features.log').read_text()  # BN and CN, one figure
    assert features == 'tools/visualize_features.py ran\n'
    assert re.search(r'Feature distributions of BN and CN: done', proc.stdout)
    assert f'{tmp_path}/demo/features.png' in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1].startswith('Demo finished in')


def test_a_failing_stage_shows_its_error_and_stops(tmp_path):
    proc = _demo(tmp_path, FAIL_ON='tools/test.py')
    assert proc.returncode == 3
    log = tmp_path / 'demo' / 'logs' / 'test_bn.log'
    assert 'Test BN on both domains: FAILED (exit 3)' in proc.stdout
    assert 'Traceback: boom in tools/test.py' in proc.stdout
    assert f'Full log: {log}' in proc.stdout
    assert 'Train CN' not in proc.stdout


def _test_result(work_dir, miou, stamp='20261203_100000'):
    """A tools/test.py result: ``{domain}/mIoU`` and a per-class IoU each."""
    folder = work_dir / stamp
    folder.mkdir(parents=True)
    metrics = {}
    for domain, value in miou.items():
        metrics[f'{domain}/IoU.road'] = value
        metrics[f'{domain}/mIoU'] = value
    (folder / f'{stamp}.json').write_text(json.dumps(metrics))
    return str(work_dir)


def _rows(printed):
    return [[c.strip() for c in line.strip('|').split('|')]
            for line in printed.splitlines() if line.startswith('|')]


@pytest.mark.parametrize('other_bank, signal', [(20.0, 'SIGNAL'),
                                                (38.5, 'UNEXPECTED')])
@pytest.mark.parametrize('cn_city, noise', [(29.12, 'NOISE: '),
                                            (35.0, 'NOISE, probably')])
def test_summary_tables_and_what_they_say(tmp_path, capsys, monkeypatch,
                                          other_bank, signal, cn_city, noise):
    matrix = _test_result(
        tmp_path / 'matrix', {
            'cityscapes': 40.0,
            'gta5': 42.0,
            'cityscapes_bank1': other_bank,
            'gta5_bank0': 30.0
        })
    bn = _test_result(tmp_path / 'bn', {'cityscapes': 28.29, 'gta5': 30.0})
    cn = _test_result(tmp_path / 'cn', {'cityscapes': cn_city, 'gta5': 31.0})
    monkeypatch.setattr(sys, 'argv', [
        'demo_summary.py', '--bn', bn, '--cn', cn, '--bank-matrix', MATRIX,
        matrix
    ])
    runpy.run_path(osp.join(TOOLS, 'demo_summary.py'), run_name='__main__')
    printed = capsys.readouterr().out
    matrix_rows, comparison = _rows(printed)[:4], _rows(printed)[4:]
    assert matrix_rows == [[
        'val set \\ bank', 'bank 0 (cityscapes)', 'bank 1 (gta5)'
    ], ['---', '---:', '---:'],
                           ['cityscapes val', '40.00', f'{other_bank:.2f}'],
                           ['gta5 val', '30.00', '42.00']]
    assert (f'mIoU drops by: cityscapes val {40 - other_bank:.1f}, gta5 val '
            '12.0 points') in printed
    assert signal in printed
    assert comparison[2:] == [[
        'cityscapes val', '28.29', f'{cn_city:.2f}', f'{cn_city - 28.29:+.2f}'
    ], ['gta5 val', '30.00', '31.00', '+1.00']]
    assert noise in printed
