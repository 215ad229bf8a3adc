"""A Runner hook for tests: stop training at a given iteration and wait.

After iteration ``at`` (and after the CheckpointHook, which runs before it)
the hook writes ``marker`` and sleeps, so that a test can kill the process
with SIGKILL at a known point, as a crash or a pre-empted job would.
"""
import time

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class StallAfterIterHook(Hook):
    """Write ``marker`` after iteration ``at`` and sleep until killed.

    Args:
        at (int): The 1-based iteration after which to stall.
        marker (str): File to create when stalling.
    """
    priority = 'LOWEST'

    def __init__(self, at: int, marker: str) -> None:
        self.at = at
        self.marker = marker

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if runner.iter + 1 == self.at:
            with open(self.marker, 'w') as f:
                f.write(str(self.at))
            time.sleep(600)
