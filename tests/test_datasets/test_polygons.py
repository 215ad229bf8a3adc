"""Polygon rasterization against hand-drawn expectations."""
import json

import numpy as np
import pytest

from cn_seg.openmmlab.datasets.converters.polygons import (draw_objects,
                                                           label_id_of,
                                                           read_polygons)


def test_rectangles_fill_their_pixels_in_order(tmp_path):
    annotation = dict(
        imgWidth=8,
        imgHeight=6,
        objects=[
            dict(label='road', polygon=[[0, 3], [7, 3], [7, 5], [0, 5]]),
            dict(label='cargroup', polygon=[[2, 2], [4, 2], [4, 4], [2, 4]]),
            dict(
                label='sky',
                polygon=[[0, 0], [7, 0], [7, 1], [0, 1]],
                deleted=1),
            dict(label='license plate', polygon=[[0, 0], [1, 0], [1, 1]]),
        ])
    path = tmp_path / 'a_gtFine_polygons.json'
    path.write_text(json.dumps(annotation))
    expected = np.zeros((6, 8), dtype=np.uint8)
    expected[3:6, 0:8] = 7  # road
    expected[2:5, 2:5] = 26  # car over road (drawn later), borders included
    np.testing.assert_array_equal(read_polygons(str(path)), expected)


def test_unknown_label_is_an_error_with_its_name():
    assert label_id_of('persongroup') == 24
    with pytest.raises(ValueError, match="'dragon'"):
        draw_objects([dict(label='dragon', polygon=[[0, 0], [1, 1], [0, 1]])],
                     4, 4)
