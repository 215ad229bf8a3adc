"""The three-domain demo config trains (a few iterations) on the synthetic
Cityscapes, GTA5 and SYNTHIA-layout domains and reports the SYNTHIA class
subsets for every validated domain."""
import json
import os.path as osp
import subprocess
import sys

from cn_seg_workbench.synthetic import prepare_synthetic_domains
from ..processes import REPO, TOOLS
from .tiny_demo import make_data, tiny_config

THREE = osp.join(
    REPO, 'configs', 'demo',
    'cn_deeplabv3_r18-d8_1xb6-400_synthetic-cs+gta5+synthia-'
    '64x128.py')


def test_three_domain_demo_trains_and_reports_synthia16_and_13(tmp_path):
    data = make_data(tmp_path)
    prepare_synthetic_domains(
        str(data), num_train=6, num_val=2, domains=['synthia'])
    config = tiny_config(tmp_path, 'three.py', THREE, max_iters=2)
    proc = subprocess.run([
        sys.executable,
        osp.join(TOOLS, 'train.py'), config, '--work-dir',
        str(tmp_path / 'run')
    ],
                          cwd=tmp_path,
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (scalars, ) = (tmp_path / 'run').glob('*/vis_data/scalars.json')
    metrics = [
        json.loads(line) for line in scalars.read_text().splitlines()
        if 'mIoU' in line
    ][-1]
    for domain in ('cityscapes', 'gta5'):
        for subset in ('synthia16', 'synthia13'):
            assert 0 <= metrics[f'{domain}/mIoU.{subset}'] <= 100
