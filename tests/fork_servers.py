"""Which sandbox fork servers belong to this process, read from /proc. Shared by the pool tests
(which import it inside the fresh interpreter they start) and the sandbox benchmark."""

from __future__ import annotations

import os
from pathlib import Path


def _parent(pid: str) -> str:
    try:
        return (Path("/proc") / pid / "stat").read_text().rsplit(")", 1)[1].split()[1]
    except OSError:
        return "0"


def fork_servers() -> list[int]:
    """This process's fork servers, sorted: processes running the server script
    (``python -s ...``; not the host-side processes between this one and a PID namespace,
    which are forks of this one) whose parent, or parent's parent with a PID namespace, is
    this process."""
    me = str(os.getpid())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = _parent(entry.name)
        server = cmdline.split(b"\0")[1:2] == [b"-s"] and b"The fork server" in cmdline
        if server and me in (parent, _parent(parent)):
            found.append(int(entry.name))
    return sorted(found)
