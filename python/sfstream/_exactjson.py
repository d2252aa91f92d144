"""JSON for records, exact for integers of any size.

orjson is fast but reads an integer beyond 64 bits as a float and refuses to write one. A
test's expected value (a Codeforces or LiveCodeBench answer above 2**63, say) must cross
collect, the NDJSON files, verify and format unchanged, or a wrong answer could pass a
float comparison. So: orjson for everything, and the standard library's exact integers for
the rare text or value that needs them. Text that orjson rejects is rejected as before, with
orjson's message and position.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

__all__ = ["JSONDecodeError", "dumps", "loads"]

JSONDecodeError = orjson.JSONDecodeError

#: A run of 19 or more digits may be an integer beyond 64 bits (2**63 has 19 digits).
_LONG_DIGITS = re.compile(rb"\d{19}")
_I64_MIN, _U64_MAX = -(2**63), 2**64 - 1


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parses one JSON text; integers keep every digit.

    Raises:
        JSONDecodeError: the text is not valid JSON (orjson's message and position).
    """
    value = orjson.loads(data)
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if _LONG_DIGITS.search(raw) is None:
        return value
    return json.loads(raw)


def _has_big_int(obj: Any) -> bool:
    if isinstance(obj, int) and not isinstance(obj, bool):
        return not _I64_MIN <= obj <= _U64_MAX
    if isinstance(obj, dict):
        return any(_has_big_int(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return any(_has_big_int(v) for v in obj)
    return False


def dumps(obj: Any, *, newline: bool = False, indent: bool = False) -> bytes:
    """Serialises ``obj`` (compact UTF-8; non-string keys as strings, as orjson does).

    Raises:
        TypeError: a value has no JSON form.
    """
    option = orjson.OPT_NON_STR_KEYS
    if newline:
        option |= orjson.OPT_APPEND_NEWLINE
    if indent:
        option |= orjson.OPT_INDENT_2
    try:
        return orjson.dumps(obj, option=option)
    except TypeError:
        if not _has_big_int(obj):
            raise
    text = json.dumps(
        obj,
        ensure_ascii=False,
        allow_nan=False,
        indent=2 if indent else None,
        separators=(",", ": ") if indent else (",", ":"),
    )
    return text.encode("utf-8") + (b"\n" if newline else b"")
