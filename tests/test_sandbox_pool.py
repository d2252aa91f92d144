"""The fork servers form one process-wide pool: thread pools that come and go reuse the same
servers, the pool grows only to the number of callers running at once, and servers can be
started ahead of the first call. Each check runs in a fresh process, whose servers are all its
own (servers started by other tests in the same process would blur the counts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sfstream import _core

PRELUDE = r"""
import json, os, sys, time
from concurrent.futures import ThreadPoolExecutor
from fork_servers import fork_servers  # found through PYTHONPATH: the tests folder
from sfstream import _core, run_tests

GOOD = "a, b = map(int, input().split())\nprint(a + b)\n"
TESTS = {"inputs": ["1 2\n", "5 5\n"], "outputs": ["3\n", "10\n"]}


def servers():
    return fork_servers()


def check(_):
    return run_tests(GOOD, TESTS).correct


def slow_check(_):
    return run_tests("import time\ntime.sleep(0.3)\n" + GOOD, TESTS).correct
"""

ROUNDS = (
    PRELUDE
    + r"""
out = {}
# Two callers at once, holding their servers a while so that they overlap on a loaded machine;
# a server the second one needed joins the pool in the background.
with ThreadPoolExecutor(2) as pool:
    assert all(pool.map(slow_check, range(4)))
deadline = time.monotonic() + 60
while len(servers()) < 2 and time.monotonic() < deadline:
    time.sleep(0.05)
out["first"] = servers()
for _ in range(5):
    with ThreadPoolExecutor(2) as pool:
        assert all(pool.map(check, range(6)))
out["after_five_pools"] = servers()
# Four callers at once, each holding its server a while, so that they do overlap even on a
# loaded machine; the servers they start join the pool in the background.
with ThreadPoolExecutor(4) as pool:
    assert all(pool.map(slow_check, range(8)))
deadline = time.monotonic() + 60
while len(servers()) <= 2 and time.monotonic() < deadline:
    time.sleep(0.05)
out["four_callers"] = servers()
print(json.dumps(out))
"""
)

PRESTART = (
    PRELUDE
    + r"""
out = {}
_core.sandbox_prestart(3, sys.executable)
deadline = time.monotonic() + 60
while len(servers()) < 3 and time.monotonic() < deadline:
    time.sleep(0.05)
out["prestarted"] = servers()
# Each server loads its native part (the core library) as it starts, and runs it between cases.
core = os.path.realpath(_core.__file__)


def with_native_part():
    return [
        pid for pid in out["prestarted"]
        if any(line.endswith(core) for line in open(f"/proc/{pid}/maps").read().splitlines())
    ]


while len(with_native_part()) < 3 and time.monotonic() < deadline:
    time.sleep(0.05)
out["with_native_part"] = with_native_part()
# Two callers at once use two of them; nothing new starts.
with ThreadPoolExecutor(2) as pool:
    assert all(pool.map(check, range(8)))
# Asking again for as many as exist starts nothing either.
_core.sandbox_prestart(3, sys.executable)
time.sleep(0.5)
out["after"] = servers()
print(json.dumps(out))
"""
)


def run_script(script: str) -> dict[str, list[int]]:
    if not dict(_core.sandbox_capabilities())["fork_server"]:
        pytest.skip("no fork server here")
    tests = str(Path(__file__).resolve().parent)
    path = os.pathsep.join(p for p in (tests, os.environ.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, list[int]] = json.loads(proc.stdout.splitlines()[-1])
    return result


def test_thread_pools_that_come_and_go_reuse_the_servers() -> None:
    out = run_script(ROUNDS)
    first = set(out["first"])
    # Two callers at once: two servers, and the same two served every later thread pool.
    assert len(first) == 2, out
    assert set(out["after_five_pools"]) == first, out
    # Four callers at once: the pool grows to four, keeping the first ones.
    grown = set(out["four_callers"])
    assert first < grown and len(grown) <= 4, out


def test_servers_can_be_started_ahead_of_the_first_call() -> None:
    out = run_script(PRESTART)
    assert len(out["prestarted"]) == 3, out
    assert out["with_native_part"] == out["prestarted"], out
    assert out["after"] == out["prestarted"], out
