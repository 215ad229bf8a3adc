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

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None) -> None:
        if runner.iter + 1 == self.at:
            with open(self.marker, 'w') as f:
                f.write(str(self.at))
            time.sleep(600)


@HOOKS.register_module()
class StallDuringSaveHook(Hook):
    """Stall half-way through writing the checkpoint of iteration ``at``.

    The checkpoint's bytes go to disk through mmengine's ``LocalBackend.put``;
    for that checkpoint only, this hook makes it write the first half of the
    bytes, create ``marker`` and sleep until killed: what a kill during the
    write leaves on disk.

    Args:
        at (int): The 1-based iteration whose checkpoint write stalls.
        marker (str): File to create when stalling.
    """

    def __init__(self, at: int, marker: str) -> None:
        self.at = at
        self.marker = marker

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if runner.iter + 1 != self.at:
            return
        from mmengine.fileio.backends import LocalBackend
        marker = self.marker

        def put_half_and_stall(backend, obj, filepath):
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
                f.flush()
            with open(marker, 'w') as f:
                f.write(str(filepath))
            time.sleep(600)

        LocalBackend.put = put_half_and_stall
