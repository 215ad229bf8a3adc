"""Prepare Cityscapes for training: train-id labels, file lists, counts.

Usage: ``cityscapes.py DATA_ROOT [--nproc N] [--force]``. Converts the
``gtFine`` label-id PNGs (or, without them, the polygons) to
``*_gtFine_labelTrainIds.png``, decodes and checks every pair, and writes
``train.txt`` / ``val.txt`` / ``test.txt``, per-class pixel counts, the list
of faulty pairs and of label warnings; see
:mod:`cn_seg.openmmlab.datasets.converters.cityscapes`. Exits with status 2
if DATA_ROOT lacks ``leftImg8bit/`` or ``gtFine/``.
"""
import sys

from cn_seg.openmmlab.datasets.converters.cityscapes import main

if __name__ == '__main__':
    sys.exit(main())
