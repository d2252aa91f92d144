"""Cancellation reaches the core: a stop flag set while test cases run kills their processes at
once, on the fork-server path and on the fresh-interpreter path, in the verify stage under an
anyio cancel scope and in ``sfstream verify`` on SIGINT.

Every program here names its own process (``prctl(PR_SET_NAME)``) with a tag unique to the
test and then sleeps for 30 s, so the process table shows exactly the test cases in flight.
Each test first waits until every worker's case is running (which also proves the probe sees
them), stops, and then checks that the stop returned far sooner than the tests would have
finished and that no case process is left. The bound is generous (5 s against 30 s per case):
it can only hold if the stop reaches the running cases, whatever the machine's load."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from sfstream import Sample, StopFlag, StoppedError, _core, verify
from sfstream.code_verdict import run_tests

WORKERS = 2
SLEEP_S = 30
BOUND_S = 5.0


def tag() -> str:
    # A process name (at most 15 bytes) no other test or program uses.
    return "sfs" + secrets.token_hex(6)


def sleeper(name: str) -> str:
    return (
        "import ctypes, time\n"
        f"ctypes.CDLL(None).prctl(15, b{name!r}, 0, 0, 0)\n"
        f"time.sleep({SLEEP_S})\n"
        "print(input())\n"
    )


TESTS = {"inputs": ["1\n", "2\n"], "outputs": ["1\n", "2\n"]}


def running(name: str) -> int:
    """Processes on this machine named ``name``."""
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    count += 1
            except OSError:
                pass
    return count


def wait_until_running(name: str, count: int) -> None:
    deadline = time.monotonic() + 60
    while running(name) < count:
        assert time.monotonic() < deadline, f"only {running(name)} of {count} cases started"
        time.sleep(0.02)


@pytest.mark.parametrize("fork_server", [True, False], ids=["fork_server", "fresh_interpreter"])
def test_stop_flag_kills_running_cases(fork_server: bool) -> None:
    name = tag()
    stop = StopFlag()
    errors: list[BaseException] = []

    def check() -> None:
        try:
            _core.run_tests(
                sleeper(name),
                orjson.dumps(TESTS).decode(),
                float(SLEEP_S * 2),
                1024,
                1 << 20,
                True,
                sys.executable if fork_server else "/usr/bin/python3",
                fork_server,
                stop=stop,
            )
        except BaseException as e:
            errors.append(e)

    if not fork_server and not Path("/usr/bin/python3").exists():
        pytest.skip("the fresh-interpreter path needs /usr/bin/python3 (readable by nobody)")
    threads = [threading.Thread(target=check) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    wait_until_running(name, WORKERS)
    assert not stop.is_set()
    started = time.monotonic()
    stop.set()
    for t in threads:
        t.join(timeout=SLEEP_S * 3)
    took = time.monotonic() - started
    assert took < BOUND_S, f"the stop took {took:.1f} s"
    assert running(name) == 0
    assert len(errors) == WORKERS and all(isinstance(e, StoppedError) for e in errors), errors


def test_a_set_flag_starts_nothing() -> None:
    stop = StopFlag()
    stop.set()
    with pytest.raises(StoppedError):
        run_tests("print(input())", {"inputs": ["1\n"], "outputs": ["1\n"]}, stop=stop)


def test_an_unset_flag_changes_nothing() -> None:
    verdict = run_tests(
        "print(int(input()) + 1)",
        {"inputs": ["1\n", "2\n"], "outputs": ["2\n", "3\n"]},
        stop=StopFlag(),
    )
    assert (verdict.status, verdict.passed) == ("correct", 2)


def sample(name: str, index: int) -> Sample:
    return Sample(
        id=f"cancel/{index}",
        domain="code",
        source="test",
        problem="echo",
        tests=TESTS,
        sample_index=index,
        completion=f"```python\n{sleeper(name)}```\n",
    )


@pytest.mark.anyio
async def test_cancelling_the_verify_stage_kills_its_cases() -> None:
    name = tag()
    got: list[Sample] = []

    async def samples() -> AsyncIterator[Sample]:
        for i in range(WORKERS * 2):
            yield sample(name, i)
        await anyio.sleep_forever()

    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:

            async def consume() -> None:
                async for s in verify(samples(), workers=WORKERS, time_limit=SLEEP_S * 2):
                    got.append(s)

            tg.start_soon(consume)
            await anyio.to_thread.run_sync(wait_until_running, name, WORKERS)
            started = time.monotonic()
            scope.cancel()
    took = time.monotonic() - started
    assert scope.cancelled_caught
    assert took < BOUND_S, f"cancelling took {took:.1f} s"
    assert running(name) == 0
    assert got == []


def test_sigint_stops_sfstream_verify_at_once(tmp_path: Path) -> None:
    name = tag()
    records = b"".join(orjson.dumps(sample(name, i).to_dict()) + b"\n" for i in range(WORKERS * 2))
    out = tmp_path / "verified.jsonl"
    env: dict[str, Any] = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sfstream",
            "verify",
            "--workers",
            str(WORKERS),
            "--time-limit",
            str(SLEEP_S * 2),
            "-o",
            str(out),
        ],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdin is not None and proc.stderr is not None
    try:
        proc.stdin.write(records)
        proc.stdin.flush()  # stdin stays open: verify waits for more input
        wait_until_running(name, WORKERS)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=SLEEP_S * 3)
        took = time.monotonic() - started
        err = proc.stderr.read().decode()
    finally:
        proc.kill()
        proc.stdin.close()
        proc.stderr.close()
    assert code == 130, err
    assert took < BOUND_S, f"the interrupted command took {took:.1f} s to end"
    assert running(name) == 0
    assert "interrupted" in err and "Traceback" not in err
