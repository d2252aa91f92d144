"""The fork servers form one process-wide pool: thread pools that come and go reuse the same
servers, and the pool grows only to the number of callers running at once."""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sfstream import _core, run_tests

GOOD = "a, b = map(int, input().split())\nprint(a + b)\n"
TESTS = {"inputs": ["1 2\n", "5 5\n"], "outputs": ["3\n", "10\n"]}


def _parent(pid: str) -> str:
    try:
        return (Path("/proc") / pid / "stat").read_text().rsplit(")", 1)[1].split()[1]
    except OSError:
        return "0"


def servers() -> set[int]:
    """This process's fork servers: processes running the server script whose parent (or,
    with a PID namespace, whose parent's parent) is this process."""
    me = str(os.getpid())
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = _parent(entry.name)
        if b"The fork server" in cmdline and me in (parent, _parent(parent)):
            found.add(int(entry.name))
    return found


def test_thread_pools_that_come_and_go_reuse_the_servers() -> None:
    if not dict(_core.sandbox_capabilities())["fork_server"]:
        pytest.skip("no fork server here")

    def check(_: int) -> bool:
        return run_tests(GOOD, TESTS).correct

    with ThreadPoolExecutor(2) as pool:
        assert all(pool.map(check, range(4)))
    before = servers()
    assert before
    for _ in range(5):
        with ThreadPoolExecutor(2) as pool:
            assert all(pool.map(check, range(6)))
    after = servers()
    # The same servers served every round; none was added for a new thread pool.
    assert after == before, (before, after)
    # Four callers at once: the pool grows to four at most, and keeps the first ones.
    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(check, range(16)))
    grown = servers()
    assert before <= grown and len(grown) <= max(4, len(before)), (before, grown)


def test_servers_can_be_started_ahead_of_the_first_call() -> None:
    if not dict(_core.sandbox_capabilities())["fork_server"]:
        pytest.skip("no fork server here")
    run_tests(GOOD, TESTS)  # whatever earlier tests started is idle now
    before = servers()
    _core.sandbox_prestart(len(before) + 1, sys.executable)
    deadline = time.monotonic() + 60
    while len(servers()) <= len(before) and time.monotonic() < deadline:
        time.sleep(0.05)
    after = servers()
    assert before < after and len(after) == len(before) + 1, (before, after)
    # Asking again for as many as exist starts nothing.
    _core.sandbox_prestart(len(after), sys.executable)
    time.sleep(0.5)
    assert servers() == after
