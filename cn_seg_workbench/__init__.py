"""The workbench beside cn_seg: what the tools, experiments, benchmarks and
tests use, and a user of the library does not.

- :mod:`.synthetic`: synthetic street-scene domains in the Cityscapes and
  GTA5 layouts (``make demo``, the experiments, the tests);
- :mod:`.analysis`: reading runs, comparison tables and charts, feature
  distributions;
- :mod:`.oracles`: the tests' independent references (a per-domain
  BatchNorm, a counter of dispatched ops and launches).

It is installed with cn_seg and imports it; cn_seg never imports it.
"""
