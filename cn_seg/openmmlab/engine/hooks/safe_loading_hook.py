"""Safe checkpoint loading for a run started by any tool."""
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ..safe_schemes import install_safe_loading


@HOOKS.register_module()
class SafeLoadingHook(Hook):
    """Load every checkpoint of the run with ``weights_only=True``.

    Calls :func:`cn_seg.openmmlab.engine.install_safe_loading` in
    ``before_run``, which the Runner calls before it initializes weights
    (``model.pretrained``, ``init_cfg``) and before ``load_from`` / ``resume``:
    mmseg's own ``tools/train.py`` and ``tools/test.py`` (or ``mim train``)
    then load as safely as cn_seg's tools, including checkpoint schemes that a
    plugin in ``custom_imports`` registered. Listed in
    ``configs/_base_/cn_runtime.py``.
    """
    priority = 'HIGHEST'

    def before_run(self, runner) -> None:
        """Install safe loading for every registered checkpoint scheme."""
        install_safe_loading()
