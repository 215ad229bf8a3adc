"""Run tools/train.py as one torchrun rank on a machine without CUDA.

mmengine's ``init_dist('pytorch')`` calls ``torch.cuda.set_device``, which a
CPU-only torch build does not have; the Runner skips ``init_dist`` when a
process group already exists, so this starts the gloo group first (torchrun's
``env://`` variables) and then runs tools/train.py unchanged.

Usage: ``torchrun --nproc_per_node N cpu_dist_train.py CONFIG --launcher
pytorch [train.py options]``.
"""
import os
import os.path as osp
import runpy
import sys
from datetime import timedelta

import torch
import torch.distributed as dist

TRAIN = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))), 'tools', 'train.py')

if __name__ == '__main__':
    if not torch.cuda.is_available() and 'RANK' in os.environ:
        dist.init_process_group('gloo', timeout=timedelta(seconds=60))
    sys.argv = [TRAIN] + sys.argv[1:]
    runpy.run_path(TRAIN, run_name='__main__')
