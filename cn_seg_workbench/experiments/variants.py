"""The experiments that compare variants on the synthetic domains.

Each :class:`Experiment` lists its variants as (row name, config) and the
evaluated domains to tabulate; ``tools/experiments/reproduce_table6.py`` runs
them (:mod:`.seed_runs`) and writes their tables (:mod:`.report`).
"""
import dataclasses
from typing import Dict, List, Tuple

#: The data root the configs name; runs read ``--data`` instead.
CONFIG_DATA = 'data/synthetic/'
DEMO = 'configs/demo/'
TABLE6 = 'configs/experiments/table6/'
MAIN_DOMAIN = 'cityscapes'


@dataclasses.dataclass
class Experiment:
    """Variants (row name, config) compared on the same data and seeds.

    ``domains`` are the evaluated domains (metric prefixes) to tabulate;
    ``matrix`` maps each val set to the domain it is evaluated as with each
    bank, for the variant named ``matrix_variant``.
    """
    title: str
    variants: List[Tuple[str, str]]
    domains: List[str]
    matrix: Dict[str, Dict[str, str]] = dataclasses.field(default_factory=dict)
    matrix_variant: str = ''


EXPERIMENTS = {
    'table6':
    Experiment(
        title='Table 6 in miniature: BN vs CN on a real and a rendered '
        'synthetic domain',
        variants=[
            ('1 BN, real only',
             TABLE6 + 'deeplabv3_r18-d8_1xb4-400_synthetic-cs-64x128.py'),
            ('2 BN, both, shared stats',
             DEMO + 'deeplabv3_r18-d8_1xb4-400_synthetic-cs+gta5-64x128.py'),
            ('3 BN, both, per-domain batch stats', TABLE6 +
             'cn-shared_deeplabv3_r18-d8_1xb4-400_synthetic-cs+gta5-64x128'
             '.py'),
            ('4 CN, both', DEMO +
             'cn_deeplabv3_r18-d8_1xb4-400_synthetic-cs+gta5-64x128_bank-'
             'matrix.py'),
        ],
        domains=['cityscapes', 'gta5', 'cityscapes_bank1', 'gta5_bank0'],
        matrix={
            'real val (cityscapes)': {
                'bank 0 (real)': 'cityscapes',
                'bank 1 (rendered)': 'cityscapes_bank1'
            },
            'rendered val (gta5)': {
                'bank 0 (real)': 'gta5_bank0',
                'bank 1 (rendered)': 'gta5'
            },
        },
        matrix_variant='4 CN, both'),
    'multiscale':
    Experiment(
        title='Transform-defined domains: two views of each real crop '
        '(full size; half size, padded)',
        variants=[
            ('BN, 2 views', DEMO +
             'deeplabv3_r18-d8_1xb2-400_synthetic-cs-multiscale-64x128.py'),
            ('CN, 2 views', DEMO +
             'cn_deeplabv3_r18-d8_1xb2-400_synthetic-cs-multiscale-64x128'
             '.py'),
        ],
        domains=[
            'cityscapes', 'cityscapes-0.5x', 'cityscapes-0.5x-bank0',
            'cityscapes-0.5x-pad', 'cityscapes-0.5x-pad-bank0'
        ]),
}
