"""The rows of a problem source: the errors a row mapper raises, and the small functions the
mappers share (``\\boxed{}`` answers, optional fields, MATH levels, GSM8K answers).

Every mapper returns a plain ``dict`` shaped like a Problem record (docs/records.md);
:mod:`sfstream.collect` validates it with :meth:`~sfstream.records.Problem.from_dict`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from sfstream import _core

__all__ = [
    "ProblemDict",
    "Row",
    "RowError",
    "SkipRow",
    "clean_meta",
    "gsm8k_split",
    "last_boxed",
    "level",
    "maybe_json",
    "str_or_none",
]

Row = Mapping[str, Any]
ProblemDict = dict[str, Any]


class RowError(ValueError):
    """A row that cannot be mapped to a Problem (the caller adds file and row number)."""


class SkipRow(RowError):
    """A dataset row that is unusable upstream (e.g. an empty gold answer): skipped, logged."""


# --------------------------------------------------------------------------------------------
# \boxed{} answers
# --------------------------------------------------------------------------------------------
def last_boxed(text: str) -> str | None:
    """The content of the last complete, non-empty ``\\boxed{...}`` (or ``\\fbox{...}``) of a
    reference solution, read by the core's extractor.

    Braces are matched with nesting, so ``\\boxed{\\frac{1}{2}}`` gives ``\\frac{1}{2}``;
    escaped braces (``\\{``, ``\\}``) are content, not grouping. ``\\boxed 5`` gives ``5``.
    An unterminated or empty later box gives way to an earlier one.

    Args:
        text: A solution, typically LaTeX (anything else has no box).

    Returns:
        The boxed content with surrounding whitespace removed, or None if there is none.
    """
    return _core.last_box(text) if isinstance(text, str) else None


# --------------------------------------------------------------------------------------------
# small functions
# --------------------------------------------------------------------------------------------
def str_or_none(value: Any) -> str | None:
    if isinstance(value, str):
        return value if value.strip() else None
    return None


def maybe_json(value: Any) -> Any:
    """Decodes ``value`` if it is a JSON string (HF rows serialise nested data this way)."""
    if isinstance(value, str):
        s = value.strip()
        if not s:
            return None
        if s[0] in "[{":
            try:
                return json.loads(s)
            except ValueError:
                return value
    return value


def clean_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if v is not None and v != ""}


def level(value: Any) -> int | None:
    """MATH levels: ``3``, ``"3"`` or ``"Level 3"`` give 3; ``"Level ?"`` gives None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(?:Level\s*)?(\d+)\s*", value)
        if m:
            return int(m.group(1))
    return None


_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def gsm8k_split(text: str) -> tuple[str, str] | None:
    """Splits a GSM8K ``answer`` into (rationale, final answer); None without ``#### ``."""
    head, sep, tail = text.rpartition("#### ")
    if not sep:
        return None
    final = tail.strip()
    if _THOUSANDS.fullmatch(final):
        final = final.replace(",", "")
    return head.rstrip(), final
