"""A config's ``compile`` option trains a CN model through tools/train.py.

mmengine compiles the model's ``train_step`` with ``torch.compile``; CN's
kernels are custom ops, so the CN layers compile (``aot_eager`` keeps the
test fast; inductor compiles the same graph). Losses of the first
iterations equal an eager run's: same data order, seed and model, float32,
both runs on the same machine (so the same CPU kernels), where the compiled
graph runs the same ATen kernels as eager (aot_eager does not fuse; at most
a decomposition reorders a sum, a few float32 ulps, ~1e-7 relative, grown
little over 3 SGD steps), so they match to 1e-5 on any CPU.
"""
import json
import subprocess
import sys

import pytest

from ..processes import TOOLS
from .tiny_demo import DEMO_CN, make_data, tiny_config


def _losses(work_dir):
    scalars = next(work_dir.glob('*/vis_data/scalars.json'))
    return [
        json.loads(line)['loss'] for line in scalars.read_text().splitlines()
        if '"loss"' in line
    ]


@pytest.mark.parametrize('compile_cfg', ["dict(backend='aot_eager')"])
def test_compile_option_trains_a_cn_model_like_eager(tmp_path, compile_cfg):
    make_data(tmp_path)
    runs = {}
    for name, extra in (('eager', ''), ('compiled',
                                        f'compile = {compile_cfg}\n')):
        config = tiny_config(
            tmp_path,
            f'{name}.py',
            DEMO_CN,
            max_iters=3,
            extra=extra + 'randomness = dict(seed=0)\n')
        work_dir = tmp_path / name
        proc = subprocess.run([
            sys.executable, f'{TOOLS}/train.py', config, '--work-dir',
            str(work_dir)
        ],
                              cwd=tmp_path,
                              capture_output=True,
                              text=True,
                              timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        runs[name] = _losses(work_dir)
    assert len(runs['compiled']) == 3
    for a, b in zip(runs['compiled'], runs['eager']):
        assert a == pytest.approx(b, rel=1e-5)
