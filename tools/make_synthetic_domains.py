"""Write synthetic Cityscapes-like and GTA5-like domains for the demo.

Usage: ``python tools/make_synthetic_domains.py --out data/synthetic
[--seed S] [--num-train N --num-val M] [--domains D ...] [--prepare]``.
Writes ``OUT/cityscapes`` (the Cityscapes layout) and ``OUT/gta5`` (the GTA5
layout, with one frame lacking its label and one label of the wrong size),
and with ``--domains cityscapes gta5 synthia`` also ``OUT/synthia`` (the
SYNTHIA RAND_CITYSCAPES layout); ``--prepare`` then prepares them with
``tools/dataset_converters/`` (``cityscapes.py``, ``gta5.py``,
``synthia.py``) as real data.
See :mod:`cn_seg_workbench.synthetic`.
"""
import sys

from cn_seg_workbench.synthetic.prepare import main

if __name__ == '__main__':
    sys.exit(main())
