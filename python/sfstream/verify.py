"""The verify stage: attach a verdict to every sample (rejection sampling).

Math samples are checked by :func:`~sfstream.math_verdict.check_math`, code samples by
:func:`~sfstream.code_verdict.run_tests`; both block, so they run in worker threads under one
capacity limiter, ``workers`` at a time. A sample whose generation failed gets the verdict
``error``; nothing is dropped.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio

from sfstream.code_verdict import extract_program, no_code_verdict, run_tests, warm_sandbox
from sfstream.math_verdict import DEFAULT_SYMBOLIC_TIMEOUT, check_math
from sfstream.pipeline import StageFn, concurrent_stage, iterate_stage
from sfstream.progress import StageProgress
from sfstream.records import Sample, Verdict

__all__ = ["VerifyConfig", "verify", "verify_sample", "verify_stage"]


@dataclass(frozen=True, kw_only=True)
class VerifyConfig:
    """Options of the verify stage.

    Attributes:
        workers: Samples checked at once (threads; code runs one sandboxed process each).
        time_limit: Seconds per test case for code.
        memory_mb: Memory limit per test case for code.
        math_timeout: Hard limit in seconds on a symbolic math comparison.
        stop_on_first_failure: Stop a solution's tests at its first failure.
    """

    workers: int = 0
    time_limit: float = 4.0
    memory_mb: int = 1024
    math_timeout: float = DEFAULT_SYMBOLIC_TIMEOUT
    stop_on_first_failure: bool = True

    def worker_count(self) -> int:
        """Workers to run: ``workers``, or the number of CPUs when it is 0."""
        return self.workers if self.workers > 0 else max(os.cpu_count() or 1, 1)


def verify_sample(sample: Sample, config: VerifyConfig | None = None) -> Verdict:
    """Judges one sample (blocking; call it from a worker thread in async code)."""
    config = config or VerifyConfig()
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
        )
        return Verdict(correct=m.correct, status=m.status, extracted=m.extracted, detail=m.detail)
    tests = sample.tests or {}
    program = extract_program(sample.completion)
    if program is None:
        c = no_code_verdict(tests)
    else:
        warm_sandbox(config.worker_count())
        c = run_tests(
            program,
            tests,
            time_limit=config.time_limit,
            memory_mb=config.memory_mb,
            stop_on_first_failure=config.stop_on_first_failure,
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
            verdict = await anyio.to_thread.run_sync(verify_sample, sample, config, limiter=limiter)
        finally:
            if progress:
                progress.in_flight -= 1
        if progress:
            progress.done += 1
            progress.correct += verdict.correct
            progress.errors += verdict.status == "error"
        await emit(sample.with_verdict(verdict))

    return concurrent_stage(one, workers)


async def verify(
    samples: AsyncIterable[Sample], config: VerifyConfig | None = None, **options: Any
) -> AsyncIterator[Sample]:
    """Attaches a verdict to every sample.

    Args:
        samples: Samples from ``generate``.
        config: Options; keyword ``options`` override its fields.

    Yields:
        Each sample with its ``verdict`` (in completion order, not input order).

    Example:
        >>> # async for s in sfstream.verify(sfstream.generate(problems)): ...
    """
    if options:
        config = VerifyConfig(**{**(config.__dict__ if config else {}), **options})
    async for item in iterate_stage(verify_stage(config), samples):
        yield item
