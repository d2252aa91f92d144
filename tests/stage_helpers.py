"""Helpers shared by the stage tests: small problems, async sources, running a stage."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from sfstream.generate import GenerateConfig, generate_stage
from sfstream.pipeline import iterate_stage
from sfstream.progress import StageProgress
from sfstream.records import Problem, Sample


def math_problems(count: int, prefix: str, *, times: bool = False) -> list[Problem]:
    """``count`` small math problems (``i + i``, or ``i times i``) with ids ``prefix/i``."""
    return [
        Problem(
            id=f"{prefix}/{i}",
            domain="math",
            source="test",
            problem=f"What is {i} times {i}?" if times else f"What is {i} + {i}?",
            answer=str(i * i if times else 2 * i),
        )
        for i in range(count)
    ]


async def aiter_of(items: Iterable[Any]) -> AsyncIterator[Any]:
    """An async iterator over ``items``."""
    for item in items:
        yield item


async def run_generate(
    config: GenerateConfig, items: list[Problem], progress: StageProgress | None = None
) -> list[Sample]:
    """Every sample the generate stage emits for ``items``."""
    stage = generate_stage(config, progress)
    return [s async for s in iterate_stage(stage, aiter_of(items))]


def sample_keys(samples: Iterable[Sample]) -> list[tuple[str, int]]:
    """The sorted (problem id, sample index) pairs of ``samples``."""
    return sorted((s.id, s.sample_index) for s in samples)
