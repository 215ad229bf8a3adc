"""The Triton backend's launch plan at every norm layer of DeepLabV3-R50-D8.

For each norm layer of the real model (with its auxiliary head), at the
paper's batches, prints the programs of each reduction launch, the most
values one of its programs reads, and the kernel launches of the layer's
forward and backward. Pure arithmetic (:func:`triton_plan.plan`): nothing is
launched, so it runs anywhere.

Usage:
    python benchmarks/launch_plans.py [--sm-count 132] [--domains 2 4]
"""
import argparse

from r50_shapes import norm_input_shapes

from cn_seg.models.norms.backends.triton_plan import (CHANNELS_LAST,
                                                      CONTIGUOUS, plan)

#: The paper's batches: (images, height, width).
BATCHES = [(2, 512, 1024), (8, 512, 512)]
#: Kernel launches of one layer's forward and backward: two reduction
#: stages and one elementwise kernel each way (triton_backend.py).
LAUNCHES_PER_LAYER = 6


def reduction_launches(p):
    """``(programs, most values per program)`` of each reduction launch of
    plan ``p`` (the statistics and the gradient sums use the same grids)."""
    return [(p.partial_grid[0] * p.partial_grid[1], p.partial_values),
            (p.finish_grid[0], p.finish_values)]


def layer_plans(sm_count, domains):
    """Yield ``(batch, layout, t, layer name, (N, C, S), plan)``."""
    for n, h, w in BATCHES:
        shapes = norm_input_shapes(n, h, w)
        for layout in (CONTIGUOUS, CHANNELS_LAST):
            for t in domains:
                for name, shape in shapes:
                    s = 1
                    for d in shape[2:]:
                        s *= d
                    yield ((n, h, w), layout, t, name, (shape[0], shape[1], s),
                           plan(shape[0], shape[1], s, layout, sm_count, t))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--sm-count',
        type=int,
        default=132,
        help='multiprocessors (132: an H100 SXM)')
    parser.add_argument('--domains', type=int, nargs='+', default=[2, 4])
    args = parser.parse_args()
    print(f'sm_count={args.sm_count}; a reduction launch is good with '
          f'>= {4 * args.sm_count} programs or <= 65536 values per program')
    print(f'{"batch":<12}{"layout":<15}{"t":>2} {"layer":<40}{"N,C,S":>20}'
          f'{"chunks":>8}{"stage1 progs":>14}{"max values":>12}'
          f'{"stage2 progs":>14}{"max values":>12}{"launches":>10}')
    for batch, layout, t, name, ncs, p in layer_plans(args.sm_count,
                                                      args.domains):
        (p1, v1), (p2, v2) = reduction_launches(p)
        print(f'{"%dx%dx%d" % batch:<12}{layout:<15}{t:>2} {name:<40}'
              f'{",".join(map(str, ncs)):>20}{p.chunks:>8}{p1:>14}{v1:>12}'
              f'{p2:>14}{v2:>12}{LAUNCHES_PER_LAYER:>10}')


if __name__ == '__main__':
    main()
