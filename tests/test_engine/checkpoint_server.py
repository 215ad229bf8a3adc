"""Checkpoints served over HTTP on 127.0.0.1, and a pickle payload, for tests.

The payload is the classic checkpoint exploit: an object that unpickles as a
call to ``os.system``, here one that creates a marker file. A test serves it
(and a good checkpoint beside it) from a folder with :func:`serve`, in a
thread of the test process, and checks that loading never creates the
marker.
"""
import contextlib
import functools
import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import torch


class RunsShell:
    """Pickles as ``os.system('touch MARKER')``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


def write_payload(path: Path, marker: Path, state_dict=None) -> Path:
    """A checkpoint whose ``meta`` runs a shell command when unpickled."""
    torch.save(dict(state_dict=state_dict or {}, meta=RunsShell(marker)), path)
    return path


class _QuietHandler(SimpleHTTPRequestHandler):

    def log_message(self, *args) -> None:  # no request lines in test output
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1 (a free port) while the block runs.

    Yields:
        str: The base URL, e.g. ``http://127.0.0.1:43121``.
    """
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}'
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
