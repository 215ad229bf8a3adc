"""The metric's summaries in a real training: logged, and usable by
mmengine's ``save_best`` (docs/config.md's example)."""
import json
import subprocess
import sys

from tests.processes import TOOLS
from tests.test_tools.tiny_demo import DEMO_CN, make_data, tiny_config

SUMMARIES = """
val_evaluator = dict(mean_over_domains=True,
                     class_subsets=dict(four=['road', 'sky', 'car', 'bus']))
default_hooks = dict(checkpoint=dict(save_best='mean/mIoU'))
"""


def test_mean_and_subset_keys_are_logged_and_select_the_best(tmp_path):
    make_data(tmp_path)
    config = tiny_config(
        tmp_path,
        'tiny_best.py',
        DEMO_CN,
        max_iters=2,
        val_interval=1,
        extra=SUMMARIES)
    proc = subprocess.run(
        [sys.executable, f'{TOOLS}/train.py', config, '--work-dir', 'run'],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (scalars, ) = tmp_path.glob('run/*/vis_data/scalars.json')
    records = [json.loads(line) for line in scalars.read_text().splitlines()]
    validations = [r for r in records if 'mean/mIoU' in r]
    assert len(validations) == 2
    for record in validations:
        domains = [record[f'{d}/mIoU'] for d in ('cityscapes', 'gta5')]
        # each value is rounded to 0.01 after the mean is taken
        assert abs(record['mean/mIoU'] - sum(domains) / 2) <= 0.01 + 1e-9
        assert {'cityscapes/mIoU.four', 'gta5/mIoU.four',
                'mean/mIoU.four'} <= set(record)
    best = list((tmp_path / 'run').glob('best_mean_mIoU_iter_*.pth'))
    assert len(best) == 1, sorted(p.name for p in (tmp_path / 'run').iterdir())
