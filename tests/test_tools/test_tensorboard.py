"""Per-class metrics reach TensorBoard (``pip install cn_seg[tensorboard]``).

A tiny training of the CN demo config with docs/tensorboard.md's visualizer
setting; TensorBoard's event file must hold every validation scalar that
mmengine's LocalVisBackend wrote to ``vis_data/scalars.json``, per-class IoU
of each domain included, with the same values.
"""
import json
import subprocess
import sys

import pytest

from ..processes import TOOLS
from .tiny_demo import DEMO_CN, make_data, tiny_config

pytest.importorskip('tensorboard')
VISUALIZER = """
visualizer = dict(vis_backends=[dict(type='LocalVisBackend'),
                                dict(type='TensorboardVisBackend')])
"""


def test_per_class_iou_reaches_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    make_data(tmp_path)
    config = tiny_config(
        tmp_path, 'tiny_tb.py', DEMO_CN, max_iters=2, extra=VISUALIZER)
    proc = subprocess.run(
        [sys.executable, f'{TOOLS}/train.py', config, '--work-dir', 'run'],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (events, ) = tmp_path.glob('run/*/vis_data/events.out.tfevents.*')
    (scalars, ) = tmp_path.glob('run/*/vis_data/scalars.json')
    records = [json.loads(line) for line in scalars.read_text().splitlines()]
    (validation, ) = [r for r in records if 'cityscapes/mIoU' in r]
    accumulator = EventAccumulator(str(events))
    accumulator.Reload()
    tags = set(accumulator.Tags()['scalars'])
    for domain in ('cityscapes', 'gta5'):
        per_class = [k for k in validation if k.startswith(f'{domain}/IoU.')]
        assert len(per_class) == 19
    metrics = {k: v for k, v in validation.items() if '/' in k}
    assert len(metrics) > 2 * 19  # also aAcc, mIoU, mAcc, Acc.<class>
    for key, value in metrics.items():
        assert key in tags
        (event, ) = accumulator.Scalars(key)
        assert (event.step,
                event.value) == (validation['step'],
                                 pytest.approx(value, abs=1e-4, nan_ok=True))
