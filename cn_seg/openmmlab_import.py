"""Import the OpenMMLab integration where MMSegmentation is installed."""
import importlib
from types import ModuleType
from typing import Optional

#: What the integration needs, as the package's extra installs it.
INSTALL_HINT = (
    "pip install 'cn_seg[mmseg]' (mmcv must be the full package with its "
    'compiled ops, built against the installed torch: see docs/install.md)')


def import_openmmlab() -> Optional[ModuleType]:
    """Import :mod:`cn_seg.openmmlab` (registering its classes) if mmseg is.

    "mmseg is not installed" (a ``ModuleNotFoundError`` for ``mmseg``
    itself) is the only condition that skips it: a torch-only environment
    gets the core alone. Any other failure, such as an mmcv without its
    compiled ops under an installed mmseg, is raised with what to install.

    Returns:
        module | None: ``cn_seg.openmmlab``, or None without mmseg.

    Raises:
        ImportError: mmseg is installed but the integration cannot be
            imported.
    """
    try:
        importlib.import_module('mmseg')
    except ModuleNotFoundError as error:
        if error.name == 'mmseg':
            return None
        raise ImportError(_message(error)) from error
    except ImportError as error:
        raise ImportError(_message(error)) from error
    try:
        return importlib.import_module('cn_seg.openmmlab')
    except ImportError as error:
        raise ImportError(_message(error)) from error


def _message(error: ImportError) -> str:
    return (f'cn_seg: mmseg is installed, but the OpenMMLab integration '
            f'(cn_seg.openmmlab) cannot be imported: {error}. Install the '
            f'OpenMMLab stack it needs: {INSTALL_HINT}; or, for the '
            'torch-only core, an environment without mmseg.')
