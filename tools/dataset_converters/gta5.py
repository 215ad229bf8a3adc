"""Prepare GTA5 for training: labels to train ids, file lists, counts.

Usage: ``gta5.py DATA_ROOT [--nproc N] [--subset N --seed S] [--force]``.
Converts ``labels/*.png`` (Cityscapes label ids) to ``*_labelTrainIds.png``,
decodes and checks every frame/label pair, and writes the file lists,
per-class pixel counts, the list of faulty pairs and of label warnings; see
:mod:`cn_seg.openmmlab.datasets.converters.gta5`.
Exits with status 2 if DATA_ROOT lacks ``images/`` or ``labels/``.
"""
import sys

from cn_seg.openmmlab.datasets.converters.gta5 import main

if __name__ == '__main__':
    sys.exit(main())
