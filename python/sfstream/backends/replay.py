"""The replay backend of the generate stage: answers from recorded completions.

The file holds one recorded completion per NDJSON line: ``{"id", "sample_index", "model",
"completion", "reasoning", "finish_reason", "usage", ...}``. A problem gets its recorded
samples in ``sample_index`` order; with an explicit ``n`` (the run's, or the problem's own
``generation.n``) only those with ``sample_index < n``, otherwise all of them. Fields beyond
those are kept in the sample's ``extra`` (the bundled file records ``recorded_correct``). A
problem with no recorded completion gets error samples ("no recorded completion for <id>"):
``n`` of them, or one when ``n`` is not set. Fewer recorded samples than ``n`` is not an error:
replay has what it has.
"""

from __future__ import annotations

import importlib.resources
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import IO, Any

import anyio

from sfstream.backends.base import (
    Backend,
    Deliver,
    GenerateConfig,
    SamplingParams,
    error_samples,
    make_sample,
    problem_fields,
)
from sfstream.errors import ConfigError, InputError
from sfstream.ndjson import iter_objects
from sfstream.progress import StageProgress
from sfstream.records import Problem, Sample

__all__ = ["ReplayBackend", "bundled_completions", "load_recorded"]

_KNOWN = frozenset(
    {"id", "sample_index", "model", "completion", "reasoning", "finish_reason", "usage"}
)


def bundled_completions() -> bytes:
    """The completions recorded for the bundled sample problems."""
    return _bundled().read_bytes()


def _bundled() -> Traversable:
    return importlib.resources.files("sfstream").joinpath("data", "completions.jsonl")


def load_recorded(stream: IO[bytes], name: str) -> dict[str, list[dict[str, Any]]]:
    """Recorded completions by problem id, each list in ``sample_index`` order, read line by
    line from ``stream``.

    Raises:
        ConfigError: a line is not a valid recorded completion (named by its number).
    """
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    try:
        for number, row in iter_objects(stream, source=name):
            ident, index = row.get("id"), row.get("sample_index")
            if not isinstance(ident, str) or not ident:
                raise InputError(name, number, "'id' must be a non-empty string")
            if isinstance(index, bool) or not isinstance(index, int) or index < 0:
                raise InputError(name, number, "'sample_index' must be an integer >= 0")
            if not isinstance(row.get("completion"), str):
                raise InputError(name, number, "'completion' must be a string")
            by_id[ident].append(row)
    except InputError as e:
        raise ConfigError(str(e)) from None
    for rows in by_id.values():
        rows.sort(key=lambda r: int(r["sample_index"]))
    return dict(by_id)


def _load_file(path: str | None) -> dict[str, list[dict[str, Any]]]:
    if path is None:
        with _bundled().open("rb") as f:
            return load_recorded(f, "bundled completions.jsonl")
    try:
        f = open(path, "rb")
    except OSError as e:
        raise ConfigError(f"cannot read recorded completions {path}: {e}") from None
    with f:
        return load_recorded(f, str(Path(path)))


@dataclass
class _Prepared:
    problem: Problem
    params: SamplingParams
    rows: list[dict[str, Any]] = field(default_factory=list)
    #: Recorded answers are not journaled: nothing identifies a request.
    request_hash: str = ""


class ReplayBackend(Backend):
    """Answers problems from a file of recorded completions (loaded on entering).

    Args:
        config: The stage's options (``replay_path``, ``n``).
        progress: Counters to update (``tokens`` from recorded usage, when present).
    """

    workers = 1  # answers are instant: one worker keeps the input order
    resumable = False

    def __init__(self, config: GenerateConfig, progress: StageProgress) -> None:
        self.config = config
        self.progress = progress
        self.recorded: dict[str, list[dict[str, Any]]] = {}

    async def __aenter__(self) -> ReplayBackend:
        self.recorded = await anyio.to_thread.run_sync(_load_file, self.config.replay_path)
        return self

    async def aclose(self) -> None:
        self.recorded = {}

    def prepare(self, problem: Problem, params: SamplingParams) -> _Prepared:
        """The recorded rows of ``problem`` (those below ``n`` when ``n`` is set)."""
        rows = self.recorded.get(problem.id, [])
        if params.n is not None:
            rows = [r for r in rows if r["sample_index"] < params.n]
        return _Prepared(problem, params, rows)

    def indices(self, prepared: _Prepared) -> Sequence[int]:
        """The recorded sample indices; ``0 .. n-1`` when nothing is recorded (error samples)."""
        if prepared.rows:
            return [int(r["sample_index"]) for r in prepared.rows]
        return range(prepared.params.n or 1)

    async def generate(self, prepared: _Prepared, indices: Sequence[int], deliver: Deliver) -> None:
        """Delivers the recorded samples ``indices`` (error samples when there are none)."""
        self.progress.in_flight += 1
        try:
            samples = self._samples(prepared, set(indices))
        finally:
            self.progress.in_flight -= 1
        await deliver(samples)

    def _samples(self, prepared: _Prepared, wanted: set[int]) -> list[Sample]:
        problem = prepared.problem
        if not prepared.rows:
            return error_samples(
                problem,
                sorted(wanted),
                f"no recorded completion for {problem.id}",
                self.config.model,
            )
        base_extra = problem_fields(problem)["extra"]
        out = []
        for row in prepared.rows:
            if row["sample_index"] not in wanted:
                continue
            usage = row.get("usage") if isinstance(row.get("usage"), dict) else None
            if usage and isinstance(usage.get("completion_tokens"), int):
                self.progress.tokens += usage["completion_tokens"]
            reasoning = row.get("reasoning")
            extra = {**{k: v for k, v in row.items() if k not in _KNOWN}, **base_extra}
            out.append(
                make_sample(
                    problem,
                    sample_index=row["sample_index"],
                    model=str(row.get("model") or self.config.model or "replay"),
                    completion=row["completion"],
                    reasoning=reasoning if isinstance(reasoning, str) else None,
                    finish_reason=str(row.get("finish_reason") or "stop"),
                    usage=usage,
                    extra=extra,
                )
            )
        return out
