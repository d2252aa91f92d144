"""Resident memory of running processes over time, read from ``/proc`` (Linux).

:class:`RssSampler` polls, at a fixed interval from a thread of its own, the resident set size
of each watched process and of every process started under it, together with a progress count
(the lines written so far to an output file), so a test can say how memory behaves as records
stream through: the peak per process, and a curve of RSS against records processed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "LineCounter",
    "Measured",
    "RssSampler",
    "Sample",
    "check_examples",
    "process_tree",
    "rss_bytes",
    "sample_pipe",
    "sample_run",
    "sfstream_env",
]


def rss_bytes(pid: int) -> int:
    """The resident set size of ``pid`` in bytes (0 once it has exited)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0  # exited, or a zombie (which holds no memory)


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return out
    for task in tasks:
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return out


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process started under it (children, grandchildren, ...)."""
    seen: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.append(current)
        todo += _children(current)
    return seen


class LineCounter:
    """Counts the lines written so far to a file that may not exist yet; a file written as
    ``NAME.partial`` and renamed to ``NAME`` when done is followed through the rename."""

    def __init__(self, *paths: Path) -> None:
        self.paths = paths
        self.lines = 0
        self._file: object | None = None

    def __call__(self) -> int:
        if self._file is None:
            for path in self.paths:
                try:
                    self._file = open(path, "rb")
                    break
                except FileNotFoundError:
                    continue
            else:
                return self.lines
        while True:
            chunk = self._file.read(1 << 20)  # type: ignore[attr-defined]
            if not chunk:
                return self.lines
            self.lines += chunk.count(b"\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()  # type: ignore[attr-defined]
            self._file = None


@dataclass(frozen=True)
class Sample:
    """One reading: seconds since the start, progress, and RSS in bytes by role; the RSS of a
    role is that of its process plus every process under it at that moment."""

    seconds: float
    progress: int
    rss: dict[str, int]


@dataclass
class RssSampler:
    """Samples the RSS of named process trees every ``interval`` seconds until stopped.

    Args:
        roles: Role name -> pid of the process at the top of its tree.
        progress: Called at each reading for the records processed so far.
        interval: Seconds between readings.
    """

    roles: dict[str, int]
    progress: Callable[[], int]
    interval: float = 0.25
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _started: float = 0.0

    def read(self) -> Sample:
        rss = {
            role: sum(rss_bytes(p) for p in process_tree(pid)) for role, pid in self.roles.items()
        }
        sample = Sample(time.monotonic() - self._started, self.progress(), rss)
        self.samples.append(sample)
        return sample

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.read()

    def __enter__(self) -> RssSampler:
        self._started = time.monotonic()
        self.read()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def peak(self, role: str, samples: Sequence[Sample] | None = None) -> int:
        """The largest RSS of ``role`` over ``samples`` (default: all readings)."""
        return max((s.rss.get(role, 0) for s in samples or self.samples), default=0)

    def between(self, low: int, high: int) -> list[Sample]:
        """Readings taken while progress was in ``[low, high)``."""
        return [s for s in self.samples if low <= s.progress < high]

    def curve(self, step: int, total: int) -> list[dict[str, int]]:
        """Peak RSS per role (in MB) in each window of ``step`` records: one row per window
        that has readings, ``{"records": end of window, role: MB, ...}``."""
        rows: list[dict[str, int]] = []
        for low in range(0, total, step):
            window = self.between(low, low + step)
            if window:
                row = {"records": min(low + step, total)}
                row.update({role: round(self.peak(role, window) / 2**20) for role in self.roles})
                rows.append(row)
        return rows


# -- sfstream under the sampler -----------------------------------------------------------------


def sfstream_env() -> dict[str, str]:
    """The environment for sfstream subprocesses: no server or data defaults of the caller."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("SFSTREAM_", "OPENAI_"))}


@dataclass
class Measured:
    """What :func:`sample_run` and :func:`sample_pipe` saw: the sampler (readings by role),
    the output file and the wall time."""

    sampler: RssSampler
    output: Path
    seconds: float


def _wait_all(procs: dict[str, subprocess.Popen[bytes]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    try:
        for role, proc in procs.items():
            code = proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            if code != 0:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise AssertionError(f"sfstream {role} exited with {code}:\n{err[-3000:]}")
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()


def sample_run(
    problems: Path, base_url: str, out: Path, *, interval: float = 0.25, timeout: float = 7200
) -> Measured:
    """Runs ``sfstream run`` on ``problems`` against ``base_url`` into ``out``, sampling the
    RSS of its process tree (role ``run``) against the examples it has written."""
    cmd = [
        sys.executable,
        "-m",
        "sfstream",
        "run",
        str(problems),
        "--base-url",
        base_url,
        "--model",
        "fake",
        "--out",
        str(out),
        "-q",
    ]
    counter = LineCounter(out / "train.jsonl.partial", out / "train.jsonl")
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, env=sfstream_env()
    )
    # stderr is read only at the end: -q keeps it to a few lines.
    try:
        with RssSampler({"run": proc.pid}, counter, interval) as sampler:
            _wait_all({"run": proc}, timeout)
            sampler.read()
    finally:
        counter.close()
    return Measured(sampler, out / "train.jsonl", time.monotonic() - started)


def start_pipe(
    stages: dict[str, list[str]], tee: dict[str, Path] | None = None
) -> dict[str, subprocess.Popen[bytes]]:
    """Starts ``sfstream`` once per stage (its arguments, ``-q`` added), each reading the
    previous one's stdout as a shell pipe would; the last writes where its arguments say.
    Their stderr is piped. ``tee`` copies a stage's output to a file on its way to the next
    (``tee(1)`` between them, as ``role/tee`` in the result). If one cannot start, those already
    started are killed."""
    procs: dict[str, subprocess.Popen[bytes]] = {}
    previous: Any = subprocess.DEVNULL
    roles = list(stages)
    commands: list[tuple[str, list[str]]] = []
    for role, args in stages.items():
        commands.append((role, [sys.executable, "-m", "sfstream", *args, "-q"]))
        if tee and role in tee and role != roles[-1]:
            commands.append((f"{role}/tee", ["tee", str(tee[role])]))
    try:
        for role, command in commands:
            last = role == roles[-1]
            proc = subprocess.Popen(
                command,
                stdin=previous,
                stdout=None if last else subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=sfstream_env(),
            )
            if previous is not subprocess.DEVNULL:
                previous.close()  # the next process holds it now
            previous = proc.stdout
            procs[role] = proc
    except BaseException:
        for proc in procs.values():
            proc.kill()
            proc.wait()
        raise
    return procs


def sample_pipe(
    problems: Path, base_url: str, output: Path, *, interval: float = 0.25, timeout: float = 7200
) -> Measured:
    """Runs ``collect | generate | verify | format`` as four processes joined by pipes, as a
    shell would, sampling the RSS of each (roles ``collect``, ``generate``, ``verify``,
    ``format``) against the examples written by the last."""
    stages = {
        "collect": ["collect", str(problems)],
        "generate": ["generate", "--base-url", base_url, "--model", "fake"],
        "verify": ["verify"],
        "format": ["format", "-o", str(output)],
    }
    procs = start_pipe(stages)
    counter = LineCounter(output.with_name(output.name + ".partial"), output)
    started = time.monotonic()
    try:
        with RssSampler({r: p.pid for r, p in procs.items()}, counter, interval) as sampler:
            _wait_all(procs, timeout)
            sampler.read()
    finally:
        counter.close()
    return Measured(sampler, output, time.monotonic() - started)


def check_examples(path: Path, count: int, prefix: str = "arith/") -> None:
    """Asserts that ``path`` holds one training example for each problem ``prefix + i``,
    ``0 <= i < count`` (example ids are ``PROBLEM#SAMPLE``), and nothing else (read line by
    line, so any size is fine)."""
    seen = bytearray(count)
    lines = 0
    with open(path, "rb") as f:
        for line in f:
            lines += 1
            row = json.loads(line)
            problem, _, sample = row["id"].partition("#")
            assert problem.startswith(prefix) and sample == "0", row["id"]
            index = int(problem.removeprefix(prefix))
            assert 0 <= index < count and not seen[index], row["id"]
            seen[index] = 1
    assert lines == count, f"{lines} examples for {count} problems"
