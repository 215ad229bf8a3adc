"""cn_seg.evaluation."""
