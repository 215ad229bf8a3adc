"""Draw per-domain feature distributions of one or more models (the CN
paper's Figure 3), one panel per model on shared axes.

Usage::

    python tools/visualize_features.py CONFIG CHECKPOINT --out FILE.png
    python tools/visualize_features.py --model BN BN_CONFIG BN_CKPT \\
        --model CN CN_CONFIG CN_CKPT --out FILE.png \\
        [--layer backbone.layer1.1.bn2] [--split {val,test,train}] \\
        [--num-samples 8] [--max-values N] [--yscale {linear,log}] \\
        [--device cpu] [--cfg-options KEY=VALUE ...]

For each model it collects the output of ``--layer`` (default: the last
normalization layer of ``backbone.layer1``, found in the built model: its
output before the residual addition and the activation) for samples of every
domain of the config's dataset, each sample routed to its domain's CN bank,
and draws the domains' densities. It prints, per model and domain, the mean
and std of the values (and, at a BN or CN layer, what they would be if the
domain were normalized with its own statistics: ``N(beta_k, gamma_k^2)`` per
channel), and per pair of domains the 1-Wasserstein distance and the channel
gap (:mod:`cn_seg_workbench.analysis.feature_statistics`).

What the figure shows (see
:mod:`cn_seg_workbench.analysis.feature_distributions`): at a CN layer each domain is normalized with its own bank, so the gap left
between the domains is the difference between the banks' affine parameters;
at a shared BN layer the gap is what remains of the domains' difference at
the layer's input. A larger gap for BN than for CN does not mean that CN
merges the domains, nor does the reverse mean that BN does.
"""
import argparse
import os
import os.path as osp

from mmengine.config import DictAction
from mmengine.registry import init_default_scope
from mmseg.apis import init_model
from mmseg.registry import DATASETS

import cn_seg  # noqa: F401  (registers CN and datasets)
from cn_seg.models import ConsistentNorm
from cn_seg.openmmlab.engine import (install_safe_loading,
                                     load_checked_checkpoint)
from cn_seg_workbench.analysis.feature_distributions import (
    collect_features, default_layer, domain_banks, plot_distributions)
from cn_seg_workbench.analysis.feature_statistics import (
    domain_distances, own_statistics_reference, statistics_tables)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Plot feature distributions per domain of one or more '
        'models, one panel each, on shared axes.')
    parser.add_argument('config', nargs='?', help='model config file')
    parser.add_argument('checkpoint', nargs='?', help='model checkpoint')
    parser.add_argument(
        '--model',
        nargs=3,
        action='append',
        default=[],
        metavar=('NAME', 'CONFIG', 'CHECKPOINT'),
        help='a named model to draw; repeat for each model (after the '
        'positional CONFIG CHECKPOINT, if given)')
    parser.add_argument('--out', required=True, help='output PNG file')
    parser.add_argument(
        '--split',
        default='val',
        choices=['val', 'test', 'train'],
        help='whose dataloader dataset to draw from '
        '(default: val)')
    parser.add_argument(
        '--layer',
        help='dotted module name whose output is drawn '
        '(default: the last normalization layer of '
        'backbone.layer1, e.g. backbone.layer1.1.bn2)')
    parser.add_argument(
        '--num-samples',
        type=int,
        default=8,
        help='samples per domain (default: 8)')
    parser.add_argument(
        '--max-values',
        type=int,
        default=200_000,
        help='values kept per domain (default: 200000)')
    parser.add_argument(
        '--yscale',
        default='linear',
        choices=['linear', 'log'],
        help='density axis (default: linear)')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of every model config, as in mmseg tools')
    args = parser.parse_args(argv)
    args.models = _models(args, parser.error)
    return args


def _models(args, error):
    """``[(name, config, checkpoint)]``: the positional pair, then --model."""
    models = []
    if args.config:
        if not args.checkpoint:
            error('give CONFIG and CHECKPOINT together')
        models.append((osp.splitext(osp.basename(args.config))[0], args.config,
                       args.checkpoint))
    models += [tuple(m) for m in args.model]
    if not models:
        error('give CONFIG CHECKPOINT or --model NAME CONFIG CHECKPOINT '
              '(repeatable)')
    names = [m[0] for m in models]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        error(f'model names {repeated} are given more than once; give each '
              'model its own NAME')
    if args.num_samples < 1 or args.max_values < 1:
        error('--num-samples and --max-values must be at least 1')
    return models


def _reading(name, model, layer) -> str:
    """What the distance between domains means at this model's layer."""
    module = model.get_submodule(layer)
    if isinstance(module, ConsistentNorm):
        return (f'{name}: {layer} is a CN layer: each domain is normalized '
                'with its own bank, so its values are close to '
                'N(beta_k, gamma_k^2) per channel; the distance between the '
                "domains is the difference between the banks' affine "
                'parameters.')
    if own_statistics_reference(module) is not None:
        return (f'{name}: {layer} is a BN layer with one set of running '
                'statistics for all domains; the distance between the '
                "domains is what is left of their difference at the layer's "
                'input.')
    return (f'{name}: {layer} is a {type(module).__name__}; the distance '
            'between the domains is their difference at its output.')


def main(argv=None) -> None:
    args = parse_args(argv)
    install_safe_loading()
    panels, titles, references, readings = {}, {}, {}, []
    for name, config, checkpoint in args.models:
        print(f'\n{name}: {config}, {checkpoint}')
        model = init_model(
            config, None, device='cpu', cfg_options=args.cfg_options)
        # Refuses a checkpoint that does not fill the model built from the
        # config (mmengine would leave those weights at their initial state).
        load_checked_checkpoint(model, checkpoint)
        model = model.to(args.device).eval()
        init_default_scope(model.cfg.get('default_scope', 'mmseg'))
        dataset = DATASETS.build(
            model.cfg[f'{args.split}_dataloader']['dataset'])
        layer = args.layer or default_layer(model)
        panels[name] = collect_features(model, dataset, layer,
                                        args.num_samples, args.max_values)
        module = model.get_submodule(layer)
        references[name] = {
            domain: own_statistics_reference(module, bank)
            for domain, bank in domain_banks(dataset).items()
        }
        titles[name] = f'{name}: output of {layer}'
        readings.append(_reading(name, model, layer))
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    plot_distributions(
        panels,
        args.out,
        titles=titles,
        suptitle=f'{args.split} set, {args.num_samples} '
        'samples per domain',
        yscale=args.yscale)
    print(f'\nFeature distributions per domain ({args.split} set, '
          f'{args.num_samples} samples per domain; {", ".join(panels)}):\n')
    print(statistics_tables(panels, references))
    print('\n'.join(readings))
    distances = {name: domain_distances(v) for name, v in panels.items()}
    for pair in next(iter(distances.values())):
        w1 = {name: d[pair][0] for name, d in distances.items() if pair in d}
        cells = ', '.join(f'{name} {value:.3f}' for name, value in w1.items())
        print(f'W1 distance between {pair[0]} and {pair[1]}: {cells}.')
        if len(w1) > 1:
            far = max(w1, key=w1.get)
            print(f'The drawn densities of {pair[0]} and {pair[1]} are '
                  f'furthest apart in {far} at this layer.')
    domains = ', '.join(dict.fromkeys(d for v in panels.values() for d in v))
    print(f'\nFeature distributions of {domains}: {args.out}')


if __name__ == '__main__':
    main()
