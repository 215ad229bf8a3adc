"""Start real worker processes for the distributed tests, with a deadline.

Each rank is a separate ``python`` process on the CPU (gloo backend), one
thread each. A run that does not finish before its deadline, e.g. because one
rank waits on a collective another rank skipped, is killed and fails the test
with every rank's log instead of hanging the suite.
"""
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

# How long a collective may wait before gloo raises (seconds); workers pass it
# to init_process_group so that a deadlock fails well inside the deadline.
COLLECTIVE_TIMEOUT = 30


def worker_env(rank: int,
               world_size: int,
               init: str,
               extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """Environment of one rank, as torchrun would set it, one thread."""
    env = dict(os.environ)
    env.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world_size),
        CN_DIST_INIT=init,
        CN_DIST_TIMEOUT=str(COLLECTIVE_TIMEOUT),
        OMP_NUM_THREADS='1',
        PYTHONUNBUFFERED='1')
    env.update(extra or {})
    return env


def _logs(paths: Sequence[Path]) -> str:
    return '\n'.join(f'--- {p.name} ---\n{p.read_text()[-4000:]}'
                     for p in paths if p.exists())


def run_ranks(commands: List[List[str]],
              workdir: Path,
              timeout: float,
              envs: List[Dict[str, str]],
              cwd: Optional[Path] = None) -> None:
    """Run one command per rank at once; raise if any fails or hangs.

    Args:
        commands (list[list[str]]): The argv of each rank.
        workdir (Path): Where each rank's log ``rank{r}.log`` is written.
        timeout (float): Deadline in seconds for all ranks together.
        envs (list[dict]): The environment of each rank.
        cwd (Path, optional): Working directory of the ranks. Default: None.

    Raises:
        AssertionError: If a rank exits non-zero or the deadline passes; the
            message holds the tail of every rank's log.
    """
    logs = [workdir / f'rank{r}.log' for r in range(len(commands))]
    procs = []
    for argv, env, log in zip(commands, envs, logs):
        with open(log, 'w') as f:
            procs.append(
                subprocess.Popen(
                    argv, env=env, cwd=cwd, stdout=f,
                    stderr=subprocess.STDOUT))
    deadline = time.monotonic() + timeout
    try:
        for proc in procs:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f'{len(procs)} ranks did not finish within {timeout} s (a rank '
            f'waiting on a collective?)\n{_logs(logs)}') from None
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    codes = [proc.returncode for proc in procs]
    if any(codes):
        raise AssertionError(f'ranks exited with {codes}\n{_logs(logs)}')


def launch(script: Path,
           world_size: int,
           workdir: Path,
           args: Sequence[str] = (),
           timeout: float = 120,
           extra_env: Optional[Dict[str, str]] = None) -> None:
    """Run ``python script *args`` as ``world_size`` ranks of one group.

    The ranks meet through a file store in ``workdir`` (no network port to
    pick), and find it in ``CN_DIST_INIT``. ``extra_env`` is added to every
    rank's environment.
    """
    init = f"file://{workdir / 'dist_store'}"
    commands = [[sys.executable, str(script), *args]] * world_size
    envs = [
        worker_env(r, world_size, init, extra_env) for r in range(world_size)
    ]
    run_ranks(commands, workdir, timeout, envs)
