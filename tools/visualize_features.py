"""Draw per-domain feature distributions (Figure 3 of the CN paper).

Usage: ``python tools/visualize_features.py CONFIG CHECKPOINT --out FILE.png
[--split {val,test,train}] [--layer backbone.layer1] [--num-samples N]``.
Collects the output of the first residual stage for samples of every domain
of the config's dataset (each sample through its domain's CN bank) and draws
their densities on one axis: with CN the domains keep apart, with a shared
BN they are pushed together.
"""
import argparse
import os
import os.path as osp

import cn_seg  # noqa: F401  (registers CN and datasets; safe loading)
from mmengine.registry import init_default_scope
from mmseg.apis import init_model
from mmseg.registry import DATASETS

from cn_seg.analysis.feature_distributions import (collect_features,
                                                plot_distributions)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Plot feature distributions per domain.')
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='model checkpoint')
    parser.add_argument('--out', required=True, help='output PNG file')
    parser.add_argument('--split', default='val',
                        choices=['val', 'test', 'train'],
                        help='whose dataloader dataset to draw from '
                        '(default: val)')
    parser.add_argument('--layer', default='backbone.layer1',
                        help='module whose output is drawn '
                        '(default: backbone.layer1)')
    parser.add_argument('--num-samples', type=int, default=8,
                        help='samples per domain (default: 8)')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    model = init_model(args.config, args.checkpoint, device=args.device)
    init_default_scope(model.cfg.get('default_scope', 'mmseg'))
    dataset = DATASETS.build(model.cfg[f'{args.split}_dataloader']['dataset'])
    values = collect_features(model.eval(), dataset, args.layer,
                              args.num_samples)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    title = (f'{osp.splitext(osp.basename(args.config))[0]}\n'
             f'output of {args.layer} per domain')
    plot_distributions(values, args.out, title=title)
    print(f'\nFeature distributions of {", ".join(values)}: {args.out}')


if __name__ == '__main__':
    main()
