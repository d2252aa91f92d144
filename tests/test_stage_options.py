"""Every stage takes its options one way and reports errors one way: unknown options and bad
values fail when the stage is called, and an error inside a stage reaches the caller as itself,
not wrapped in the task groups' ExceptionGroup."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import sfstream
from sfstream._config import configure
from sfstream.errors import ConfigError, RecordError
from sfstream.format import FormatConfig
from sfstream.records import Sample
from sfstream.verify import VerifyConfig
from stage_helpers import aiter_of


async def _never() -> AsyncIterator[Any]:
    raise AssertionError("a stage with bad options must not read its input")
    yield None


@pytest.mark.parametrize(
    ("stage", "options", "message"),
    [
        (sfstream.verify, {"time_limt": 2}, "unknown verify option"),
        (sfstream.verify, {"time_limit": -1}, "time_limit must be a number greater than 0"),
        (sfstream.verify, {"time_limit": float("nan")}, "time_limit"),
        (sfstream.verify, {"memory_mb": 0}, "memory_mb"),
        (sfstream.verify, {"workers": -2}, "workers"),
        (sfstream.verify, {"math_timeout": 0}, "math_timeout"),
        (sfstream.format, {"stlye": "seed"}, "unknown format option"),
        (sfstream.format, {"style": "chatml"}, "unknown style"),
        (sfstream.generate, {"temprature": 0.5}, "unknown generate option"),
    ],
)
def test_bad_options_fail_when_the_stage_is_called(
    stage: Any, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        stage(_never(), **options)


def test_a_config_of_the_wrong_kind_is_refused() -> None:
    with pytest.raises(ConfigError, match="config must be a VerifyConfig"):
        sfstream.verify(_never(), FormatConfig())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="time_limit"):
        VerifyConfig(time_limit=0)


async def _failing_source() -> AsyncIterator[Any]:
    if False:
        yield None
    raise RecordError("line 3: field 'completion' is missing")


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["verify", "format", "generate"])
async def test_errors_surface_as_themselves(name: str) -> None:
    stage = getattr(sfstream, name)
    options = {"backend": "replay"} if name == "generate" else {}
    with pytest.raises(RecordError, match="field 'completion' is missing"):
        async for _ in stage(_failing_source(), **options):
            pass


@pytest.mark.anyio
async def test_options_override_the_config() -> None:
    # The config is lenient (no marker needed); the keyword makes it strict, and the unmarked
    # completion's verdict shows which of the two was applied. The config's other fields stay.
    sample = Sample(
        id="t/1",
        domain="math",
        source="test",
        problem="What is 2 + 2?",
        answer="4",
        completion="So the result is 4.",
    )
    base = VerifyConfig(workers=3, math_strict=False)

    async def statuses(**options: Any) -> list[str]:
        out = [s async for s in sfstream.verify(aiter_of([sample]), base, **options)]
        return [s.verdict.status for s in out if s.verdict is not None]

    assert await statuses() == ["correct"]
    assert await statuses(math_strict=True) == ["no_answer"]
    merged = configure(VerifyConfig, base, {"math_strict": True}, "verify")
    assert (merged.math_strict, merged.workers, base.math_strict) == (True, 3, False)
