"""Prepare SYNTHIA (RAND_CITYSCAPES) for training: train ids, lists, counts.

Usage: ``synthia.py DATA_ROOT [--nproc N] [--subset N --seed S] [--force]``.
Converts ``GT/LABELS/*.png`` (SYNTHIA class ids in the first channel of
16-bit PNGs) to Cityscapes train ids in ``*_labelTrainIds.png``, decodes and
checks every frame/label pair, and writes ``train.txt``, per-class pixel
counts, the list of faulty pairs and of label warnings; see
:mod:`cn_seg.openmmlab.datasets.converters.synthia`.
Exits with status 2 if DATA_ROOT lacks ``RGB/`` or ``GT/LABELS/``.
"""
import sys

from cn_seg.openmmlab.datasets.converters.synthia import main

if __name__ == '__main__':
    sys.exit(main())
