"""Quality measures of a verified sample, and the thresholds that turn a correct sample into
``low_quality`` (docs/records.md lists the measures and their rules).

Measures:

* ``chars``: characters of the reasoning channel plus the completion.
* ``completion_tokens`` and ``reasoning_tokens``: from the server's ``usage``
  (``completion_tokens``, ``completion_tokens_details.reasoning_tokens``); without them, or
  when they are a whole response's counts shared by several samples (``usage.shared_by``), counted
  as words and punctuation marks (each run of letters, digits and underscores is one token, each
  other non-space character one more). ``tokens_from`` says which: ``usage`` or ``counted``.
* ``steps``: reasoning steps, counted as paragraphs: non-blank blocks of the reasoning channel
  and the completion separated by a blank line; a fenced code block is one step, whatever its
  blank lines.
* Code, once the program ran: ``test_wall_s``, ``test_cpu_s`` and ``test_peak_mb``, per test
  case run (seconds, seconds, MiB of peak resident memory); ``test_time_ratio``, the slowest
  case's wall time over the time limit; ``explanation_chars``, characters of the completion
  outside its fenced code blocks (whitespace at either end not counted).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from sfstream.errors import ConfigError

__all__ = [
    "QualityThresholds",
    "check_thresholds",
    "count_steps",
    "count_tokens",
    "measure",
    "threshold_failures",
]

_TOKEN = re.compile(r"\w+|[^\w\s]")
_FENCE = re.compile(r"^[ \t]*(```|~~~)")
_CODE_BLOCK = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n.*?^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)


def count_tokens(text: str) -> int:
    """Tokens of ``text`` by the counting rule: words (runs of letters, digits and
    underscores) and every other non-space character."""
    return len(_TOKEN.findall(text))


def count_steps(text: str) -> int:
    """Paragraphs of ``text``: non-blank blocks separated by a blank line, a fenced code block
    counting as one however many blank lines it holds."""
    steps = 0
    in_block = False
    in_fence: str | None = None
    for line in text.splitlines():
        fence = _FENCE.match(line)
        if in_fence is not None:
            if fence and fence.group(1) == in_fence:
                in_fence = None
            continue
        if fence:
            in_fence = fence.group(1)
            if not in_block:
                steps += 1
            in_block = True
            continue
        if line.strip():
            if not in_block:
                steps += 1
            in_block = True
        else:
            in_block = False
    return steps


def explanation_chars(completion: str) -> int:
    """Characters of ``completion`` outside its fenced code blocks."""
    return len(_CODE_BLOCK.sub("", completion).strip())


def _usage_int(usage: Mapping[str, Any] | None, *path: str) -> int | None:
    value: Any = usage
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def measure(
    completion: str,
    reasoning: str | None,
    usage: Mapping[str, Any] | None,
    *,
    cases: Sequence[tuple[float, float, int]] | None = None,
    time_limit: float | None = None,
    code: bool = False,
) -> dict[str, Any]:
    """The ``quality`` object of a verdict.

    Args:
        completion: The completion text.
        reasoning: The separate reasoning channel, if any.
        usage: The server's token counts, if any.
        cases: ``(wall_s, cpu_s, peak_rss_bytes)`` per test case run (code).
        time_limit: The time limit per case the cases ran under (code).
        code: The sample is a code sample (adds ``explanation_chars``).
    """
    reasoning = reasoning or ""
    shared_by = _usage_int(usage, "shared_by")
    if shared_by is not None and shared_by > 1:
        usage = None  # the counts of a whole response of several samples, not this one's
    completion_tokens = _usage_int(usage, "completion_tokens")
    reasoning_tokens = _usage_int(usage, "completion_tokens_details", "reasoning_tokens")
    from_usage = completion_tokens is not None
    if completion_tokens is None:
        completion_tokens = count_tokens(reasoning) + count_tokens(completion)
        reasoning_tokens = count_tokens(reasoning)
    elif reasoning_tokens is None and not reasoning:
        reasoning_tokens = 0
    q: dict[str, Any] = {
        "chars": len(reasoning) + len(completion),
        "completion_tokens": completion_tokens,
        "reasoning_tokens": reasoning_tokens,
        "tokens_from": "usage" if from_usage else "counted",
        "steps": count_steps(reasoning) + count_steps(completion),
    }
    if code:
        q["explanation_chars"] = explanation_chars(completion)
    if cases:
        q["test_wall_s"] = [round(c[0], 4) for c in cases]
        q["test_cpu_s"] = [round(c[1], 4) for c in cases]
        q["test_peak_mb"] = [round(c[2] / (1 << 20), 1) for c in cases]
        if time_limit:
            q["test_time_ratio"] = round(max(c[0] for c in cases) / time_limit, 4)
    return q


@dataclass(frozen=True, kw_only=True)
class QualityThresholds:
    """Quality thresholds; None means no threshold.

    Attributes:
        min_steps: Fewest reasoning steps.
        max_completion_tokens: Most completion tokens.
        max_test_time_ratio: Largest slowest-case wall time over the time limit (code).
        min_explanation_chars: Fewest characters of explanation outside the code (code).
    """

    min_steps: int | None = None
    max_completion_tokens: int | None = None
    max_test_time_ratio: float | None = None
    min_explanation_chars: int | None = None

    @classmethod
    def of(cls, options: Any) -> QualityThresholds:
        """The thresholds among a stage's options (attributes of the same names)."""
        return cls(**{f.name: getattr(options, f.name) for f in fields(cls)})


def check_thresholds(stage: str, t: QualityThresholds) -> None:
    """Raises ``ConfigError`` (naming ``stage``) for a threshold that is not a non-negative
    integer, or a ratio that is not a positive number."""
    for name in ("min_steps", "max_completion_tokens", "min_explanation_chars"):
        value = getattr(t, name)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 0
        ):
            raise ConfigError(f"{stage}: {name} must be a non-negative integer, got {value!r}")
    ratio = t.max_test_time_ratio
    if ratio is not None and (
        isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not ratio > 0
    ):
        raise ConfigError(f"{stage}: max_test_time_ratio must be a positive number, got {ratio!r}")


def threshold_failures(quality: Mapping[str, Any], t: QualityThresholds) -> list[str]:
    """The thresholds ``quality`` fails, each as ``NAME (measure VALUE vs LIMIT)``; the name
    before the space is the reason the report counts."""
    out = []
    steps = quality.get("steps")
    if t.min_steps is not None and isinstance(steps, int) and steps < t.min_steps:
        out.append(f"min_steps (steps {steps} < {t.min_steps})")
    tokens = quality.get("completion_tokens")
    if (
        t.max_completion_tokens is not None
        and isinstance(tokens, int)
        and tokens > t.max_completion_tokens
    ):
        out.append(
            f"max_completion_tokens (completion_tokens {tokens} > {t.max_completion_tokens})"
        )
    ratio = quality.get("test_time_ratio")
    if (
        t.max_test_time_ratio is not None
        and isinstance(ratio, (int, float))
        and ratio > t.max_test_time_ratio
    ):
        out.append(f"max_test_time_ratio (test_time_ratio {ratio} > {t.max_test_time_ratio})")
    expl = quality.get("explanation_chars")
    if (
        t.min_explanation_chars is not None
        and isinstance(expl, int)
        and expl < t.min_explanation_chars
    ):
        out.append(f"min_explanation_chars (explanation_chars {expl} < {t.min_explanation_chars})")
    return out
