"""Experiments on the synthetic domains: variants, seeded runs in one
process, and their report (``tools/experiments/reproduce_table6.py``)."""
