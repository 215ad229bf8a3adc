"""The tests' synthetic domains: generated and converted once per session.

Every test that needs data on disk gets it here, made the way ``make demo``
makes it (:func:`cn_seg_workbench.synthetic.prepare_synthetic_domains`): the
real generator writes the raw Cityscapes and GTA5 layouts, the real
converters prepare them. Each size is made once per test process in a folder
removed at exit; tests read the shared copy (``converted_domains``, the
``synthetic`` fixture) or take a private one they may change
(``copy_domains``).
"""
import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Dict, Optional

import pytest

from cn_seg_workbench.synthetic import (make_synthetic_domains,
                                        prepare_synthetic_domains)

#: Frames per split of the shared synthetic domains.
NUM_TRAIN, NUM_VAL = 6, 2
DOMAINS = ('cityscapes', 'gta5')
_made: Dict[tuple, Dict[str, str]] = {}
_folder: Optional[Path] = None


def _cache() -> Path:
    global _folder
    if _folder is None:
        _folder = Path(tempfile.mkdtemp(prefix='cn_seg_synthetic_'))
        atexit.register(shutil.rmtree, _folder, ignore_errors=True)
    return _folder


def raw_domains(num_train: int = NUM_TRAIN,
                num_val: int = NUM_VAL) -> Dict[str, str]:
    """The generator's raw domains (read only), keyed ``cityscapes``, ``gta5``.

    GTA5 frames 2 and 3 are the generator's faulty pairs (a missing label, a
    label of another size), which the converters drop.
    """
    key = ('raw', num_train, num_val)
    if key not in _made:
        _made[key] = make_synthetic_domains(
            str(_cache() / f'raw_{num_train}_{num_val}'),
            seed=0,
            num_train=num_train,
            num_val=num_val)
    return _made[key]


def converted_domains(num_train: int = NUM_TRAIN,
                      num_val: int = NUM_VAL) -> Dict[str, str]:
    """The domains prepared by the real converters (read only)."""
    key = ('converted', num_train, num_val)
    if key not in _made:
        _made[key] = prepare_synthetic_domains(
            str(_cache() / f'converted_{num_train}_{num_val}'),
            seed=0,
            num_train=num_train,
            num_val=num_val)
    return _made[key]


def copy_domains(dest: Path,
                 num_train: int = NUM_TRAIN,
                 num_val: int = NUM_VAL,
                 converted: bool = True) -> Dict[str, str]:
    """A private copy in ``dest/cityscapes`` and ``dest/gta5``.

    Returns:
        dict[str, str]: The two copied roots, keyed by domain.
    """
    source = (converted_domains if converted else raw_domains)(num_train,
                                                               num_val)
    return {
        d: shutil.copytree(source[d], str(Path(dest) / d))
        for d in DOMAINS
    }


@pytest.fixture(scope='session')
def synthetic() -> Dict[str, str]:
    """Roots of the shared converted ``cityscapes`` and ``gta5`` domains."""
    return converted_domains()
