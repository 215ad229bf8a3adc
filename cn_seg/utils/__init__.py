"""cn_seg.utils."""
