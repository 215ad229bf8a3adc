"""Resume with the random states of the interrupted run."""
import logging
from typing import Callable, Iterator, Optional

import torch
from mmengine.dist import get_dist_info
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ..random_state import get_random_state, set_random_state

#: Checkpoint key of the random states (rank 0's).
STATE_KEY = 'random_state'


class _RestoreAfterSkip:
    """The train loop's data iterator, restoring states after the skip.

    On resume mmengine's IterBasedTrainLoop draws (and drops) the batches of
    the iterations already trained, so that the sampler and the data
    workers continue where they were; in a process without workers this
    also replays the augmentations' draws from numpy and ``random``. The
    saved states belong right after that, before the next batch is drawn.
    """

    def __init__(self, iterator: Iterator, skip: int,
                 restore: Callable[[], None]) -> None:
        self._iterator = iterator
        self._skip = skip
        self._restore: Optional[Callable[[], None]] = restore

    def __iter__(self):
        return self

    def __next__(self):
        if self._skip == 0 and self._restore is not None:
            self._restore()
            self._restore = None
        self._skip -= 1
        return next(self._iterator)

    def __getattr__(self, name):
        if name == '_iterator':  # not set yet (e.g. while copied)
            raise AttributeError(name)
        return getattr(self._iterator, name)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Save the random states in checkpoints; restore them on ``--resume``.

    mmengine saves only the seed (``meta.seed``) and re-seeds on resume, so
    after a resume dropout masks and other random draws of the model differ
    from an uninterrupted run. This hook stores python's ``random``, numpy's
    and torch's CPU (and current CUDA device's) generator states in every
    checkpoint and restores them when a run resumes from it, right after
    the train loop has skipped the trained iterations' batches: with the
    same seed (``tools/train.py`` takes the checkpoint's when resuming), a
    resumed run then equals the uninterrupted one. Validation runs between
    iterations with the training states saved and put back, so it does not
    shift the training streams (nor the point where a checkpoint's states
    belong). The log says at resume what is restored and what is not.

    In distributed runs a checkpoint holds rank 0's states; the other ranks
    restore its torch states if all ranks share a seed (their dropout
    streams are then the same), and otherwise keep the re-seeded ones.
    ``tools/train.py`` adds this hook to every run; with mmseg's own tools
    add ``dict(type='RandomStateHook')`` to ``custom_hooks``.
    """
    priority = 'NORMAL'

    def __init__(self) -> None:
        self._resumed = None
        self._around_val = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store the current random states in the checkpoint."""
        checkpoint[STATE_KEY] = get_random_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the states of a checkpoint being resumed, for the restore."""
        # The Runner's own resume flag (mmengine has no public accessor).
        if not getattr(runner, '_resume', False):
            return
        saved_seed = checkpoint.get('meta', {}).get('seed')
        if saved_seed is not None and saved_seed != runner.seed:
            runner.logger.warning(
                f'RandomStateHook: the interrupted run had seed {saved_seed} '
                f'and this one {runner.seed}: its data loader was built with '
                'this seed, so the data order and augmentations after the '
                'resume differ from the interrupted run. Set '
                f'randomness.seed={saved_seed} (tools/train.py does).')
        state = checkpoint.get(STATE_KEY)
        if state is None:
            runner.logger.warning(
                'RandomStateHook: the checkpoint holds no random states (it '
                'was written without this hook): dropout and other random '
                'draws after the resume differ from an uninterrupted run.')
        self._resumed = state

    def before_train_epoch(self, runner) -> None:
        """Arrange the restore of the resumed states."""
        if self._resumed is None:
            return
        state, self._resumed = self._resumed, None
        loop = runner.train_loop

        def restore():
            self._restore(runner, state)

        if hasattr(loop, 'dataloader_iterator') and loop.iter > 0:
            loop.dataloader_iterator = _RestoreAfterSkip(
                loop.dataloader_iterator, loop.iter, restore)
        else:
            restore()

    def before_val(self, runner) -> None:
        """Keep the training states while validation draws from them."""
        self._around_val = get_random_state()

    def after_val(self, runner) -> None:
        """Put the training states back."""
        if self._around_val is not None:
            set_random_state(self._around_val)
            self._around_val = None

    @staticmethod
    def _restore(runner, state: dict) -> None:
        rank, world_size = get_dist_info()
        # The Runner's randomness settings (no public accessor).
        shared_seed = not getattr(runner, '_randomness_cfg', {}).get(
            'diff_rank_seed', False)
        if rank == 0:
            wanted = ('python', 'numpy', 'torch', 'cuda')
        elif shared_seed:
            wanted = ('torch', 'cuda')
        else:
            wanted = ()
        restored = set_random_state(state, wanted)
        missing = [
            name for name in ('python', 'numpy', 'torch', 'cuda')
            if name in state and name not in restored
        ]
        note = ''
        if 'cuda' not in state and torch.cuda.is_available():
            note = ' (the checkpoint holds no CUDA state)'
        message = (
            'RandomStateHook: restored the random states of the interrupted '
            f'run: {", ".join(restored) or "none"}{note}.')
        level = logging.INFO
        if missing:
            level = logging.WARNING
            why = ('the checkpoint holds rank 0\'s states'
                   if rank else 'CUDA is not available')
            message += (f' Not restored on rank {rank}: {", ".join(missing)} '
                        f'({why}); their draws after the resume differ from '
                        'the interrupted run.')
        if world_size > 1:
            message += (' Data workers and samplers continue from the seed '
                        'and the skipped batches.')
        runner.logger.log(level, message)
