"""The Triton backend's launch plans, checked without launching anything.

The shapes come from the real DeepLabV3-R50-D8 (with its auxiliary head),
built on the meta device (``benchmarks/r50_shapes.py``).
"""
import os.path as osp
import sys

import pytest

from cn_seg.models.norms.backends.triton_plan import (CHANNELS_LAST,
                                                      CONTIGUOUS, PlanLimits,
                                                      plan)

sys.path.insert(0, osp.join(osp.dirname(__file__), '..', '..', 'benchmarks'))
import launch_plans  # noqa: E402

H100_SMS = 132


def _covers(p, n, s):
    """The chunks cover every (sample, position) exactly once."""
    assert p.samples_per_chunk * p.n_chunks >= n
    assert p.samples_per_chunk * (p.n_chunks - 1) < max(n, 1)
    assert p.positions_per_chunk * p.s_chunks >= s
    assert p.positions_per_chunk * (p.s_chunks - 1) < max(s, 1)
    assert p.s_chunks == 1 or p.samples_per_chunk == 1
    assert p.s_chunks == 1 or p.positions_per_chunk % p.block_s == 0


@pytest.fixture(scope='module')
def r50_plans():
    return list(launch_plans.layer_plans(H100_SMS, (2, 4)))


def test_every_r50_reduction_fills_an_h100_or_reads_little(r50_plans):
    names = {name for _, _, _, name, _, _ in r50_plans}
    # ResNetV1c-50 stem (3) + 16 blocks (3 each) + 4 downsample + ASPP (6:
    # image pool, 1x1, three dilated, bottleneck) + the FCN auxiliary head.
    assert len(names) == 3 + 48 + 4 + 6 + 1, sorted(names)
    assert {b for b, *_ in r50_plans} == {(2, 512, 1024), (8, 512, 512)}
    bad = []
    for batch, layout, t, name, (n, c, s), p in r50_plans:
        _covers(p, n, s)
        for programs, values in launch_plans.reduction_launches(p):
            if programs < 4 * H100_SMS and values > 65536:
                bad.append((batch, layout, t, name, programs, values))
    assert not bad, bad


def test_launches_per_layer_do_not_depend_on_domains(r50_plans):
    grids = {}
    for batch, layout, t, name, _, p in r50_plans:
        grids.setdefault((batch, layout, name), set()).add(
            (p.partial_grid, p.elementwise_grid))
    assert all(len(g) == 1 for g in grids.values())
    assert launch_plans.LAUNCHES_PER_LAYER <= 10


def test_the_stem_at_512x1024_is_split_across_positions():
    """The layer the single-stage kernels left 32 programs for."""
    p = plan(2, 32, 256 * 512, CONTIGUOUS, H100_SMS)
    assert p.partial_grid[0] * p.partial_grid[1] >= 4 * H100_SMS
    assert p.samples_per_chunk == 1 and p.s_chunks > 1
    _covers(p, 2, 256 * 512)


@pytest.mark.parametrize('layout', [CONTIGUOUS, CHANNELS_LAST])
@pytest.mark.parametrize('n,c,s', [(6, 5, 42), (1, 3, 7), (9, 2, 1), (0, 4, 5),
                                   (3, 0, 5), (2, 4, 0), (64, 8, 3)])
def test_small_limits_split_and_cover(layout, n, c, s):
    limits = PlanLimits(tile=4, values=24, programs_per_sm=64)
    p = plan(n, c, s, layout, 1, 2, limits)
    assert p.block_c * p.block_s <= 4
    _covers(p, n, s)
    programs = p.partial_grid[0] * p.partial_grid[1]
    assert programs >= 64 or p.partial_values <= 24
    if n * s > 24 and c:  # one chunk: few programs (c <= 8), long reads
        assert p.chunks > 1


def test_a_bad_layout_is_refused():
    with pytest.raises(ValueError, match="'channels_last'"):
        plan(2, 4, 4, 'strided', 132)
