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
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
import orjson

from sfstream.errors import ConfigError, RecordError
from sfstream.generate import (
    GenerateConfig,
    SamplingParams,
    error_samples,
    make_sample,
    problem_fields,
)
from sfstream.progress import StageProgress
from sfstream.records import Problem, Sample

__all__ = ["ReplayBackend", "bundled_completions", "load_recorded"]

_KNOWN = frozenset(
    {"id", "sample_index", "model", "completion", "reasoning", "finish_reason", "usage"}
)


def bundled_completions() -> bytes:
    """The completions recorded for the bundled sample problems."""
    return importlib.resources.files("sfstream").joinpath("data", "completions.jsonl").read_bytes()


def load_recorded(data: bytes, name: str) -> dict[str, list[dict[str, Any]]]:
    """Recorded completions by problem id, each list in ``sample_index`` order.

    Raises:
        ConfigError: a line is not a valid recorded completion (named by its number).
    """
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            raise ConfigError(f"{name}: line {number}: invalid JSON ({e})") from None
        if not isinstance(row, dict):
            raise ConfigError(f"{name}: line {number}: expected a JSON object")
        ident, index, completion = row.get("id"), row.get("sample_index"), row.get("completion")
        if not isinstance(ident, str) or not ident:
            raise ConfigError(f"{name}: line {number}: 'id' must be a non-empty string")
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ConfigError(f"{name}: line {number}: 'sample_index' must be an integer >= 0")
        if not isinstance(completion, str):
            raise ConfigError(f"{name}: line {number}: 'completion' must be a string")
        by_id[ident].append(row)
    for rows in by_id.values():
        rows.sort(key=lambda r: int(r["sample_index"]))
    return dict(by_id)


class ReplayBackend:
    """Answers problems from a file of recorded completions (loaded on entering).

    Args:
        config: The stage's options (``replay_path``, ``n``).
        progress: Counters to update (``tokens`` from recorded usage, when present).
    """

    def __init__(self, config: GenerateConfig, progress: StageProgress) -> None:
        self.config = config
        self.progress = progress
        self.recorded: dict[str, list[dict[str, Any]]] = {}

    async def __aenter__(self) -> ReplayBackend:
        path = self.config.replay_path
        if path is None:
            data = await anyio.to_thread.run_sync(bundled_completions)
            name = "bundled completions.jsonl"
        else:
            try:
                data = await anyio.Path(path).read_bytes()
            except OSError as e:
                raise ConfigError(f"cannot read recorded completions {path}: {e}") from None
            name = str(Path(path))
        self.recorded = await anyio.to_thread.run_sync(load_recorded, data, name)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.recorded = {}

    async def samples(self, problem: Problem) -> list[Sample]:
        """The recorded samples of ``problem`` (error samples when there are none)."""
        try:
            n = SamplingParams.resolve(self.config, problem).n
        except RecordError as e:
            return error_samples(problem, range(self.config.n or 1), str(e), self.config.model)
        rows = self.recorded.get(problem.id, [])
        if n is not None:
            rows = [r for r in rows if r["sample_index"] < n]
        if not rows:
            return error_samples(
                problem,
                range(n or 1),
                f"no recorded completion for {problem.id}",
                self.config.model,
            )
        base_extra = problem_fields(problem)["extra"]
        out = []
        for row in rows:
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
