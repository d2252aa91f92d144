"""A test server script run in a process of its own (so it does not share the caller's
interpreter): it prints its port on its first line of output."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def server_process(script: Path) -> Iterator[str]:
    """Runs ``script`` and yields its base URL (``http://127.0.0.1:PORT/v1``); kills it when
    the block ends."""
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield f"http://127.0.0.1:{int(proc.stdout.readline())}/v1"
    finally:
        proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
