"""Generate the synthetic domains and prepare them as real data: once.

``make demo`` (``tools/make_synthetic_domains.py --prepare``), the
experiments and the tests all get their data here: the generator writes the
raw Cityscapes and GTA5 layouts (:func:`.domains.make_synthetic_domains`),
and the real converters (``tools/dataset_converters/``) prepare them.
"""
import argparse
import os.path as osp
from typing import Dict, Optional, Sequence

from cn_seg.openmmlab.datasets.converters import cityscapes, gta5, synthia
from .domains import DEFAULT_DOMAINS, DOMAINS, make_synthetic_domains

#: The converter of each synthetic domain, by its folder name.
CONVERTERS = dict(cityscapes=cityscapes, gta5=gta5, synthia=synthia)


def prepare_synthetic_domains(
        out: str,
        seed: int = 0,
        num_train: int = 80,
        num_val: int = 20,
        domains: Sequence[str] = DEFAULT_DOMAINS) -> Dict[str, str]:
    """Generate ``out/cityscapes`` and ``out/gta5`` and convert them.

    Domains already in ``out`` are not generated again; the converters skip
    the labels they already converted.

    Args:
        out (str): Output folder (created).
        seed (int): Seed of every frame. Default: 0.
        num_train (int): Training frames per domain (at least 3). Default:
            80.
        num_val (int): Validation frames per domain. Default: 20.
        domains (Sequence[str]): Which domains (``cityscapes``, ``gta5``,
            ``synthia``). Default: ``('cityscapes', 'gta5')``.

    Returns:
        dict[str, str]: The prepared data roots, keyed by domain.

    Raises:
        RuntimeError: If a converter fails (its messages say why).
    """
    roots = {name: osp.join(out, name) for name in dict.fromkeys(domains)}
    missing = [name for name, root in roots.items() if not osp.isdir(root)]
    if missing:
        make_synthetic_domains(out, seed, num_train, num_val, missing)
    for name, root in roots.items():
        if CONVERTERS[name].main([root]) != 0:
            raise RuntimeError(f'Converting {roots[name]} failed; see the '
                               'messages above.')
    return roots


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point of ``tools/make_synthetic_domains.py``."""
    parser = argparse.ArgumentParser(
        description='Write synthetic "real" (Cityscapes layout) and '
        '"rendered" (GTA5 layout, and on request SYNTHIA layout) street-'
        'scene domains.')
    parser.add_argument(
        '--out',
        default='data/synthetic',
        help='output folder (default: data/synthetic)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--num-train',
        type=int,
        default=80,
        help='training frames per domain (default: 80)')
    parser.add_argument(
        '--num-val',
        type=int,
        default=20,
        help='validation frames per domain (default: 20)')
    parser.add_argument(
        '--prepare',
        action='store_true',
        help='also prepare them with the dataset converters, as real data')
    parser.add_argument(
        '--domains',
        nargs='+',
        default=list(DEFAULT_DOMAINS),
        choices=DOMAINS,
        metavar='DOMAIN',
        help=f'which of {", ".join(DOMAINS)} to write (default: '
        f'{" ".join(DEFAULT_DOMAINS)})')
    args = parser.parse_args(argv)
    make = prepare_synthetic_domains if args.prepare else \
        make_synthetic_domains
    try:
        roots = make(args.out, args.seed, args.num_train, args.num_val,
                     args.domains)
    except ValueError as error:
        parser.error(str(error))
    for name, root in roots.items():
        print(f'{name}: {root}')
    return 0
