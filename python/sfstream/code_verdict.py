"""Code verdicts: extract the program from a completion and run it against its tests.

Spawning, limits, supervision and output comparison run in the Rust core's sandbox, with the
interpreter released, so several solutions can be checked at once from worker threads.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sfstream import _core, _exactjson

__all__ = ["CodeVerdict", "StopFlag", "extract_program", "run_tests"]

#: A flag that stops the :func:`run_tests` calls it is passed to (``set()`` from any thread):
#: each kills its running test case's processes at once and raises ``StoppedError``.
StopFlag = _core.StopFlag

#: Cap on what a program may write to stdout or stderr per test case.
DEFAULT_OUTPUT_LIMIT = 1 << 20


@dataclass(frozen=True)
class CodeVerdict:
    """The judgement of one program against its tests.

    Attributes:
        correct: Every test passed.
        status: ``correct``, ``wrong_answer``, ``timeout``, ``memory_limit``, ``output_limit``,
            ``runtime_error``, ``syntax_error`` or ``no_code``.
        passed: Test cases passed.
        total: Test cases in the problem.
        detail: A short explanation of the first failure, if any.
        cases: ``(status, detail)`` per test case run.
        timings: ``(wall_s, cpu_s, peak_rss_bytes)`` per test case run, as the sandbox
            measured them.
    """

    correct: bool
    status: str
    passed: int
    total: int
    detail: str | None = None
    cases: list[tuple[str, str | None]] = field(default_factory=list)
    timings: list[tuple[float, float, int]] = field(default_factory=list)


def extract_program(completion: str) -> str | None:
    """The program in a completion: the "Here's my final solution:" block, else the last
    fenced Python block; None when there is none."""
    return _core.extract_program(completion)


def _python() -> str:
    # The interpreter that runs checked programs: SFSTREAM_PYTHON, else this one.
    return os.environ.get("SFSTREAM_PYTHON") or sys.executable or shutil.which("python3") or ""


_WARMED: set[tuple[str, int]] = set()


def warm_sandbox(workers: int) -> None:
    """Starts ``workers`` fork servers in the background (once per process), so that that
    many concurrent :func:`run_tests` calls find them ready."""
    key = (_python(), workers)
    if key not in _WARMED:
        _WARMED.add(key)
        _core.sandbox_prestart(workers, key[0])


def _total(tests: Mapping[str, Any]) -> int:
    inputs = tests.get("inputs")
    return len(inputs) if isinstance(inputs, list) else 1


def run_tests(
    code: str,
    tests: Mapping[str, Any],
    *,
    time_limit: float = 4.0,
    memory_mb: int = 1024,
    output_limit: int = DEFAULT_OUTPUT_LIMIT,
    stop_on_first_failure: bool = True,
    stop: StopFlag | None = None,
) -> CodeVerdict:
    """Runs a program against test cases in the sandbox.

    Safe from any thread; a failure of the program is a verdict, never an exception.

    Args:
        code: The Python program.
        tests: APPS-style ``{"inputs", "outputs", "fn_name"}`` with an optional ``judge``
            mode and ``checker`` (see the README), or ``{"asserts": ...}``.
        time_limit: Wall-clock seconds per test case (CPU time is limited likewise).
        memory_mb: Address-space limit per test case.
        output_limit: Bytes of stdout allowed per test case (more is ``output_limit``);
            stderr is kept up to as many bytes (its head and tail) and never decides a verdict.
        stop_on_first_failure: Stop at the first failing test case.
        stop: Once this flag is set (from another thread), the running test case's processes
            are killed, no other case starts and ``StoppedError`` is raised.

    Raises:
        InvalidInputError: ``tests`` is malformed (also an unknown judge mode, or a checker
            that does not compile or defines no ``check``).
        SandboxError: the sandbox could not run a process at all.
        StoppedError: ``stop`` was set; every process of the run is gone.

    Example:
        >>> run_tests("print(int(input()) * 2)", {"inputs": ["2\\n"], "outputs": ["4\\n"]}).status
        'correct'
    """
    status, passed, total, detail, cases = _core.run_tests(
        code,
        _exactjson.dumps(dict(tests)).decode(),
        time_limit,
        memory_mb,
        output_limit,
        stop_on_first_failure,
        _python(),
        stop=stop,
    )
    return CodeVerdict(
        status == "correct",
        status,
        passed,
        total,
        detail,
        [(c[0], c[1]) for c in cases],
        [(c[2], c[3], c[4]) for c in cases],
    )


def no_code_verdict(tests: Mapping[str, Any]) -> CodeVerdict:
    """The verdict for a completion without a program."""
    return CodeVerdict(False, "no_code", 0, _total(tests), "no program found in the completion")
