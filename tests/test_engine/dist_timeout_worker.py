"""One rank of test_dist_timeout: gloo from setup_cpu_distributed, then stall.

Both ranks start the process group as tools/train.py does without CUDA,
from a config whose ``env_cfg.dist_cfg.timeout`` is ``argv[1]`` seconds, and
meet in one all_reduce. Then rank 1 stops itself (SIGSTOP, a hung process)
and rank 0 calls all_reduce again, inside ``explain_collective_timeout`` as
tools/train.py runs the Runner: it must fail after about the timeout.
Rank 0 prints ``ELAPSED <seconds>`` and the error, and exits 3.
"""
import os
import signal
import sys
import time

import torch
import torch.distributed as dist
from mmengine.config import Config

from cn_seg.openmmlab.engine.collective_timeout import \
    explain_collective_timeout
from cn_seg.openmmlab.engine.run_config import setup_cpu_distributed


def main() -> int:
    cfg = Config(
        dict(
            launcher='pytorch',
            env_cfg=dict(
                dist_cfg=dict(backend='gloo', timeout=float(sys.argv[1])))))
    setup_cpu_distributed(cfg)
    value = torch.ones(1)
    dist.all_reduce(value)
    assert value.item() == dist.get_world_size()
    if dist.get_rank() == 1:
        os.kill(os.getpid(), signal.SIGSTOP)
        return 0
    time.sleep(0.5)  # let rank 1 stop first
    start = time.monotonic()
    try:
        with explain_collective_timeout(cfg):
            dist.all_reduce(value)
    except Exception as error:  # noqa: BLE001 (gloo raises RuntimeError)
        print(f'ELAPSED {time.monotonic() - start:.1f}')
        print(f'{type(error).__name__}: {error}', flush=True)
        return 3
    print('all_reduce returned without rank 1', flush=True)
    return 1


if __name__ == '__main__':
    sys.exit(main())
