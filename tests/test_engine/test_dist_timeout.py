"""A stopped rank makes the other fail after env_cfg.dist_cfg.timeout.

Two real processes start gloo through ``setup_cpu_distributed`` (what
``tools/train.py --launcher pytorch`` does without CUDA) with a 5 s
timeout; rank 1 then stops (SIGSTOP). Rank 0's next all_reduce must fail
after about 5 s, not wait for torch's default of 30 minutes, with an error
that names the collective, where it was called, the timeout and how to
raise it.
"""
import os
import os.path as osp
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
from mmengine.config import Config

from cn_seg.openmmlab.engine.run_config import dist_timeout

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
TIMEOUT = 5
DEADLINE = 90  # process start (imports) plus the timeout, generously


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def test_stopped_rank_times_out_as_configured(tmp_path):
    port = _free_port()
    procs = []
    for rank in range(2):
        env = dict(
            os.environ,
            RANK=str(rank),
            LOCAL_RANK=str(rank),
            WORLD_SIZE='2',
            MASTER_ADDR='127.0.0.1',
            MASTER_PORT=port,
            CUDA_VISIBLE_DEVICES='',
            OMP_NUM_THREADS='1',
            PYTHONPATH=os.pathsep.join(
                [REPO, os.environ.get('PYTHONPATH', '')]))
        log = open(tmp_path / f'rank{rank}.log', 'w+')
        procs.append((subprocess.Popen([
            sys.executable,
            osp.join(HERE, 'dist_timeout_worker.py'),
            str(TIMEOUT)
        ],
                                       env=env,
                                       stdout=log,
                                       stderr=subprocess.STDOUT), log))
    (rank0, log0), (rank1, log1) = procs
    try:
        status = rank0.wait(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        status = None
    finally:
        for proc, log in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
            log.close()
    output = (tmp_path / 'rank0.log').read_text()
    assert status is not None, (
        f'rank 0 still waited on the stopped rank after {DEADLINE} s '
        f'(timeout {TIMEOUT} s not applied):\n{output[-3000:]}')
    assert status == 3, output[-3000:]
    elapsed = float(re.search(r'ELAPSED ([\d.]+)', output).group(1))
    assert TIMEOUT * 0.8 <= elapsed <= TIMEOUT + 20, output[-3000:]
    assert re.search('timed? ?out', output, re.IGNORECASE), output[-3000:]
    assert 'CollectiveTimeoutError: The collective all_reduce (called at ' \
        f'{osp.join(HERE, "dist_timeout_worker.py")}:' in output, \
        output[-3000:]
    assert f'waited longer than {TIMEOUT} s (env_cfg.dist_cfg.timeout)' \
        in output
    assert '--cfg-options env_cfg.dist_cfg.timeout=SECONDS' in output


@pytest.mark.parametrize('timeout', [0, -1, '30', True])
def test_bad_timeout_is_a_clear_error(timeout):
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(timeout=timeout))))
    with pytest.raises(ValueError, match='env_cfg.dist_cfg.timeout'):
        dist_timeout(cfg)


def test_no_timeout_keeps_torch_default():
    assert dist_timeout(Config(dict(env_cfg=dict()))) is None
    assert dist_timeout(
        Config(dict(env_cfg=dict(dist_cfg=dict(
            timeout=7.5))))).total_seconds() == 7.5
