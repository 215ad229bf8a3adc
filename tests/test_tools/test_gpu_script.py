"""benchmarks/gpu.sh: its CPU-side self-check, argument parsing, and the
loud failure without CUDA (it must never skip a GPU run silently)."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'benchmarks', 'gpu.sh')


def _run(*args, env=None):
    return subprocess.run(['bash', SCRIPT, '--python', sys.executable, *args],
                          capture_output=True,
                          text=True,
                          env=env,
                          cwd=REPO,
                          timeout=900)


def test_help_and_a_bad_argument():
    shown = _run('--help')
    assert shown.returncode == 0 and '--self-check' in shown.stdout
    bad = _run('--fast')
    assert bad.returncode == 2
    assert "unknown argument '--fast'" in bad.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason='a CUDA device is here')
def test_without_cuda_it_fails_and_says_why(tmp_path):
    result = _run('--out', str(tmp_path))
    assert result.returncode == 3, result
    assert 'torch sees no CUDA device' in result.stderr
    assert not os.listdir(tmp_path)


@pytest.mark.slow
def test_self_check_runs_every_part_on_the_cpu(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    result = _run('--self-check', '--out', str(tmp_path), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = (tmp_path / 'summary.txt').read_text()
    assert summary.count('exit 0') == 5, summary
    layers = (tmp_path / 'layers_r50.txt').read_text()
    assert 'first use' in layers and 'CN t=4' in layers
    compiled = (tmp_path / 'train_step_compiled.txt').read_text()
    assert 'compiled (eager)' in compiled and 'compilation' in compiled
    assert 'peak MiB' in (tmp_path / 'train_step_eager.txt').read_text()
