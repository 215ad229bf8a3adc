"""Running tools and Python processes from tests: the one place for it.

``run_tool`` runs a script of ``tools/`` in this process, as ``python
tools/<tool> args...`` would; ``start`` / ``finish`` / ``run_python`` run one
in a separate process with its output kept for the failure message;
``kill_when_stalled`` kills one at a point a test hook marks.
"""
import os
import os.path as osp
import runpy
import signal
import subprocess
import sys
import tempfile
import time
from typing import Iterable, Optional, Sequence

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOLS = osp.join(REPO, 'tools')
#: Seconds a tool process may run before a test fails.
TIMEOUT = 300


def run_tool(tool, *args) -> int:
    """Run ``tools/<tool>`` (or a script path) in this process.

    Args:
        tool (str | Path): A script name under ``tools/``, or a path.
        *args: Its command-line arguments.

    Returns:
        int: Its exit status: the code of the ``SystemExit`` it raised, 0
        when it returned. Any other exception propagates.
    """
    path = osp.join(TOOLS, str(tool))
    argv = sys.argv
    sys.argv = [str(tool), *map(str, args)]
    try:
        runpy.run_path(path, run_name='__main__')
    except SystemExit as done:
        return 0 if done.code is None else done.code
    finally:
        sys.argv = argv
    return 0


def python_env(threads: Optional[int] = None,
               path: Iterable[str] = ()) -> dict:
    """This process's environment for a child ``python``.

    Args:
        threads (int, optional): Its ``OMP_NUM_THREADS``.
        path (Iterable[str]): Folders to put first on its ``PYTHONPATH``
            (such as one holding a test hook a config imports).
    """
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [*map(str, path), env.get('PYTHONPATH', '')]).strip(os.pathsep)
    if threads:
        env['OMP_NUM_THREADS'] = str(threads)
    # Sleeping, not spinning, OpenMP threads: much faster on a busy machine.
    env.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    return env


def start(
    args: Sequence,
    cwd,
    threads: Optional[int] = None,
    path: Iterable[str] = ()) -> subprocess.Popen:
    """Start ``python args...`` in ``cwd``, its output in a temporary file."""
    log = tempfile.TemporaryFile(mode='w+')
    proc = subprocess.Popen([sys.executable, *map(str, args)],
                            cwd=cwd,
                            env=python_env(threads, path),
                            stdout=log,
                            stderr=subprocess.STDOUT,
                            text=True)
    proc.log = log
    return proc


def finish(proc: subprocess.Popen, timeout: float = TIMEOUT) -> str:
    """Wait for ``proc``; fail with its output unless it succeeded.

    Returns:
        str: Its output (stdout and stderr).
    """
    try:
        status = proc.wait(timeout=timeout)
    finally:
        proc.kill()
    proc.log.seek(0)
    output = proc.log.read()
    proc.log.close()
    if status != 0:
        pytest.fail(f'{" ".join(map(str, proc.args))} exited {status}:\n'
                    f'{output[-5000:]}')
    return output


def run_python(args: Sequence,
               cwd,
               threads: Optional[int] = None,
               path: Iterable[str] = ()) -> str:
    """Run ``python args...`` in ``cwd``; fail unless it succeeds.

    Returns:
        str: Its output.
    """
    return finish(start(args, cwd, threads, path))


def kill_when_stalled(args: Sequence, cwd, marker,
                      path: Iterable[str] = ()) -> int:
    """Run ``python args...`` until it writes ``marker``, then SIGKILL it.

    Returns:
        int: The exit status (``-SIGKILL``).
    """
    proc = start(args, cwd, 1, path)
    try:
        deadline = time.time() + TIMEOUT
        while not marker.exists() and proc.poll() is None \
                and time.time() < deadline:
            time.sleep(0.2)
        assert marker.exists(), 'the process never reached the stall point'
    finally:
        proc.send_signal(signal.SIGKILL)
        status = proc.wait()
        proc.log.close()
    return status
