"""cn_seg.engine."""
