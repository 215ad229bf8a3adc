"""Analysis of runs: final per-class results, comparison tables and charts,
per-domain feature distributions (``tools/compare_runs.py``,
``tools/visualize_features.py``)."""
