"""One rank of the test that a bank with one value in the global batch is
refused on every rank (run by dist_launch.launch).

Usage: ``python single_value_worker.py OUT_DIR`` with RANK, WORLD_SIZE and
CN_DIST_INIT set. Rank 0 holds samples of domains [0, 1], rank 1 of [0, 0],
all 1x1 (an ASPP image pool): bank 1 has one value per channel over both
ranks. Each rank writes the error it got to ``OUT_DIR/rank{RANK}.txt``.
"""
import os
import sys
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
from mmcv.cnn import build_norm_layer

from cn_seg import domain_routing

DOMAINS = {0: [0, 1], 1: [0, 0]}


def main(out_dir: Path) -> None:
    rank = int(os.environ['RANK'])
    dist.init_process_group(
        'gloo',
        init_method=os.environ['CN_DIST_INIT'],
        rank=rank,
        world_size=int(os.environ['WORLD_SIZE']),
        timeout=timedelta(seconds=int(os.environ['CN_DIST_TIMEOUT'])))
    cn = build_norm_layer(
        dict(type='CN', num_domains=2, norm_cfg=dict(type='SyncBN')),
        4)[1].train()
    before = cn.running_var.clone()
    try:
        with domain_routing(cn, DOMAINS[rank]):
            cn(torch.randn(2, 4, 1, 1))
        message = 'no error'
    except ValueError as error:
        message = str(error)
    assert torch.equal(cn.running_var, before), 'running stats moved'
    # The group is still in step: a later collective completes.
    dist.all_reduce(torch.ones(1))
    (out_dir / f'rank{rank}.txt').write_text(message)
    dist.destroy_process_group()


if __name__ == '__main__':
    main(Path(sys.argv[1]))
