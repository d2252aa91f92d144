"""The verify stage: attach a verdict to every sample (rejection sampling).

Math samples are checked by :func:`~sfstream.math_verdict.check_math`, code samples by
:func:`~sfstream.code_verdict.run_tests`; both block, so they run in worker threads under one
capacity limiter, ``workers`` at a time. A sample whose generation failed gets the verdict
``error``, and a code sample whose problem's tests are malformed gets ``invalid_tests`` with
the reason; nothing is dropped and nothing is raised for either.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio

from sfstream._config import check_positive, configure
from sfstream.code_verdict import (
    StopFlag,
    extract_program,
    no_code_verdict,
    run_tests,
    warm_sandbox,
)
from sfstream.errors import ConfigError, InvalidInputError, StoppedError
from sfstream.math_verdict import DEFAULT_SYMBOLIC_TIMEOUT, check_math
from sfstream.pipeline import StageFn, concurrent_stage, iterate_stage
from sfstream.progress import StageProgress
from sfstream.quality import (
    QualityThresholds,
    check_thresholds,
    measure,
    threshold_failures,
)
from sfstream.records import Sample, Verdict, spec_error

__all__ = ["VerifyConfig", "verify", "verify_sample", "verify_stage"]


@dataclass(frozen=True, kw_only=True)
class VerifyConfig:
    """Options of the verify stage.

    Attributes:
        workers: Samples checked at once (threads; code runs one sandboxed process each).
        time_limit: Seconds per test case for code.
        memory_mb: Memory limit per test case for code.
        math_timeout: Hard limit in seconds on a symbolic math comparison.
        math_strict: Strict no-marker policy for math: a completion needs a box, an answer
            phrase or a bold final value (see :func:`~sfstream.math_verdict.check_math`).
        math_rel_tol: Relative tolerance for numeric math answers; 0 compares exactly.
        stop_on_first_failure: Stop a solution's tests at its first failure.
        min_steps: A correct sample with fewer reasoning steps is ``low_quality``.
        max_completion_tokens: A correct sample with more completion tokens is
            ``low_quality``.
        max_test_time_ratio: A correct program whose slowest test case took more than this
            fraction of ``time_limit`` (wall time) is ``low_quality``.
        min_explanation_chars: A correct code completion with fewer characters outside its
            code blocks is ``low_quality``.
    """

    workers: int = 0
    time_limit: float = 4.0
    memory_mb: int = 1024
    math_timeout: float = DEFAULT_SYMBOLIC_TIMEOUT
    math_strict: bool = False
    math_rel_tol: float = 0.0
    stop_on_first_failure: bool = True
    min_steps: int | None = None
    max_completion_tokens: int | None = None
    max_test_time_ratio: float | None = None
    min_explanation_chars: int | None = None

    def __post_init__(self) -> None:
        check_thresholds("verify", self.thresholds())
        check_positive("verify", "workers", self.workers, allow_zero=True)
        if not isinstance(self.workers, int):
            raise ConfigError(f"verify: workers must be an integer, got {self.workers!r}")
        check_positive("verify", "time_limit", self.time_limit)
        check_positive("verify", "memory_mb", self.memory_mb)
        check_positive("verify", "math_timeout", self.math_timeout)

    def thresholds(self) -> QualityThresholds:
        """The quality thresholds among these options."""
        return QualityThresholds.of(self)

    def worker_count(self) -> int:
        """Workers to run: ``workers``, or the number of CPUs when it is 0."""
        return self.workers if self.workers > 0 else max(os.cpu_count() or 1, 1)


def verify_sample(
    sample: Sample, config: VerifyConfig | None = None, *, stop: StopFlag | None = None
) -> Verdict:
    """Judges one sample (blocking; call it from a worker thread in async code).

    The verdict carries the sample's quality measures; a correct sample that fails a quality
    threshold of ``config`` becomes ``low_quality`` (not correct), the thresholds it failed in
    ``detail``.

    Setting ``stop`` from another thread ends a code check at once (its processes are killed)
    with ``StoppedError``."""
    config = config or VerifyConfig()
    timings: list[tuple[float, float, int]] = []
    verdict = _judge(sample, config, stop, timings)
    quality = measure(
        sample.completion,
        sample.reasoning,
        sample.usage,
        cases=timings,
        time_limit=config.time_limit,
        code=sample.domain == "code",
    )
    verdict = dataclasses.replace(verdict, quality=quality)
    if not verdict.correct:
        return verdict
    failed = threshold_failures(quality, config.thresholds())
    if not failed:
        return verdict
    return dataclasses.replace(
        verdict,
        correct=False,
        status="low_quality",
        detail="below quality thresholds: " + "; ".join(failed),
    )


def _judge(
    sample: Sample,
    config: VerifyConfig,
    stop: StopFlag | None,
    timings: list[tuple[float, float, int]],
) -> Verdict:
    if sample.finish_reason == "error":
        reason = sample.extra.get("error")
        return Verdict(
            correct=False, status="error", detail=str(reason) if reason else "generation failed"
        )
    if sample.domain == "math":
        m = check_math(
            sample.completion,
            sample.answer or "",
            finish_reason=sample.finish_reason,
            timeout=config.math_timeout,
            strict=config.math_strict,
            rel_tol=config.math_rel_tol,
        )
        return Verdict(correct=m.correct, status=m.status, extracted=m.extracted, detail=m.detail)
    tests = sample.tests or {}
    program = extract_program(sample.completion)
    try:
        if program is None:
            error = spec_error(sample.tests)
            if error is not None:
                raise InvalidInputError(error)
            c = no_code_verdict(tests)
        else:
            warm_sandbox(config.worker_count())
            # The core reads the spec before it runs anything, and refuses a malformed one.
            c = run_tests(
                program,
                tests,
                time_limit=config.time_limit,
                memory_mb=config.memory_mb,
                stop_on_first_failure=config.stop_on_first_failure,
                stop=stop,
            )
            timings.extend(c.timings)
    except InvalidInputError as e:
        return Verdict(
            correct=False,
            status="invalid_tests",
            extracted=program,
            passed=0,
            total=0,
            detail=f"the problem's tests are malformed: {e}",
        )
    if sample.finish_reason == "length" and not c.correct:
        return Verdict(
            correct=False,
            status="truncated",
            extracted=program,
            passed=c.passed,
            total=c.total,
            detail="generation stopped at the token limit",
        )
    return Verdict(
        correct=c.correct,
        status=c.status,
        extracted=program,
        passed=c.passed,
        total=c.total,
        detail=c.detail,
    )


async def _verify_in_thread(
    sample: Sample, config: VerifyConfig, limiter: anyio.CapacityLimiter
) -> Verdict:
    # On cancellation the thread is not waited for as it is: its stop flag kills the running
    # test case, and only that short wind-down (its processes killed and reaped) is awaited.
    stop = StopFlag()
    lock = threading.Lock()
    state = {"started": False, "cancelled": False}
    finished = threading.Event()

    def work() -> Verdict:
        with lock:
            if state["cancelled"]:
                raise StoppedError("the verify stage was cancelled")
            state["started"] = True
        try:
            return verify_sample(sample, config, stop=stop)
        finally:
            finished.set()

    try:
        return await anyio.to_thread.run_sync(work, limiter=limiter, abandon_on_cancel=True)
    except anyio.get_cancelled_exc_class():
        stop.set()
        with lock:
            state["cancelled"] = True
            started = state["started"]
        if started:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(finished.wait)
        raise


def verify_stage(
    config: VerifyConfig | None = None, progress: StageProgress | None = None
) -> StageFn:
    """The verify stage function: samples in, verified samples out."""
    config = config or VerifyConfig()
    workers = config.worker_count()
    limiter = anyio.CapacityLimiter(workers)

    async def one(sample: Sample, emit: Callable[[Any], Awaitable[None]]) -> None:
        if progress:
            progress.in_flight += 1
        try:
            verdict = await _verify_in_thread(sample, config, limiter)
        finally:
            if progress:
                progress.in_flight -= 1
        if progress:
            progress.done += 1
            progress.correct += verdict.correct
            progress.errors += verdict.status == "error"
        await emit(sample.with_verdict(verdict))

    return concurrent_stage(one, workers)


def verify(
    samples: AsyncIterable[Sample], config: VerifyConfig | None = None, **options: Any
) -> AsyncIterator[Sample]:
    """Attaches a verdict to every sample.

    Args:
        samples: Samples from ``generate``.
        config: Options; keyword ``options`` override its fields.

    Returns:
        An async generator of each sample with its ``verdict`` (in completion order, not input
        order).

    Raises:
        ConfigError: an unknown option or a bad value, when called (before any sample).

    Example:
        >>> # async for s in sfstream.verify(sfstream.generate(problems)): ...
    """
    config = configure(VerifyConfig, config, options, "verify")
    return iterate_stage(verify_stage(config), samples)
