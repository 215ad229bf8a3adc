"""A CheckpointHook whose previous checkpoint survives a kill mid-write."""
import glob
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

#: Suffix of a checkpoint being written; renamed away once complete.
PARTIAL_SUFFIX = '.partial'


def _replace_synced(src: str, dst: str) -> None:
    """Flush ``src`` to disk, then rename it to ``dst`` in one step."""
    if osp.isfile(src):
        with open(src, 'rb') as f:
            os.fsync(f.fileno())
    os.replace(src, dst)


def _write_text_atomic(path: str, text: str) -> None:
    partial = path + PARTIAL_SUFFIX
    with open(partial, 'w') as f:
        f.write(text)
    _replace_synced(partial, path)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's CheckpointHook, writing each checkpoint atomically.

    mmengine's hook deletes the checkpoints beyond ``max_keep_ckpts`` before
    it writes the new one, in place: with ``max_keep_ckpts=1`` a kill during
    the write leaves only a partial file, and ``last_checkpoint`` names it or
    a deleted one, so ``--resume`` has nothing to continue from. This hook
    writes ``<name>.partial``, renames it to ``<name>`` when complete, then
    updates ``last_checkpoint`` (also by rename) and only then deletes the
    outdated checkpoints: ``last_checkpoint`` always names a complete file.
    A leftover ``.partial`` file of a killed run is removed at the start of
    the next one. Arguments and behaviour are otherwise CheckpointHook's;
    checkpoints on a remote backend are written as CheckpointHook does.
    ``tools/train.py`` uses it in place of ``CheckpointHook``; in a config:
    ``default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook',
    ...))``.
    """

    def before_train(self, runner) -> None:
        """Set up as CheckpointHook; remove partial files of a killed run."""
        super().before_train(runner)
        if not (isinstance(self.file_backend, LocalBackend)
                and is_main_process()):
            return
        for path in glob.glob(
                osp.join(glob.escape(self.out_dir), '*' + PARTIAL_SUFFIX)):
            os.remove(path)
            runner.logger.info(f'Removed {path}, a checkpoint that an '
                               'interrupted run did not finish writing.')

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not isinstance(self.file_backend, LocalBackend):
            return super()._save_checkpoint_with_step(runner, step, meta)
        outdated = []
        # As CheckpointHook, the ids to keep are updated before the save so
        # that the saved message hub lists the new checkpoint.
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            filename + PARTIAL_SUFFIX,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        _replace_synced(self.last_ckpt + PARTIAL_SUFFIX, self.last_ckpt)
        _write_text_atomic(
            osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        for old in outdated:
            path = self.file_backend.join_path(self.out_dir,
                                               self.filename_tmpl.format(old))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                self.file_backend.rmtree(path)
