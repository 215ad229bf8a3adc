"""cn_seg.datasets."""
