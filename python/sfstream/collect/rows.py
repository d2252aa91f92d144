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
# \boxed{} extraction
# --------------------------------------------------------------------------------------------
_BOX_MARKERS = ("\\boxed", "\\fbox")


def _group_end(text: str, start: int) -> int | None:
    """Index just past the ``}`` that closes the ``{`` at ``text[start]``, or None.

    ``\\{`` and ``\\}`` are literal braces in LaTeX and do not open or close a group.
    """
    depth = 0
    i = start
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def _boxed_at(text: str, pos: int, marker: str) -> str | None:
    i = pos + len(marker)
    if i < len(text) and (text[i].isalpha()):
        return None  # some other command, e.g. \boxedfoo
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text):
        return None
    if text[i] == "{":
        end = _group_end(text, i)
        if end is None:
            return None
        return text[i + 1 : end - 1].strip()
    if i > pos + len(marker):
        # "\boxed 5": the argument runs to the next space or "$".
        m = re.match(r"[^\s$]+", text[i:])
        return m.group(0) if m else None
    return None


def last_boxed(text: str) -> str | None:
    """The content of the last well-formed ``\\boxed{...}`` (or ``\\fbox{...}``) in ``text``.

    Braces are matched with nesting, so ``\\boxed{\\frac{1}{2}}`` gives ``\\frac{1}{2}``;
    escaped braces (``\\{``, ``\\}``) are content, not grouping. ``\\boxed 5`` gives ``5``.

    Args:
        text: A solution or completion, typically LaTeX.

    Returns:
        The boxed content with surrounding whitespace removed, or None if there is none.
    """
    if not isinstance(text, str):
        return None
    pos = len(text)
    while True:
        found = [(text.rfind(m, 0, pos), m) for m in _BOX_MARKERS]
        at, marker = max(found)
        if at < 0:
            return None
        content = _boxed_at(text, at, marker)
        if content:
            return content
        pos = at


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
