"""The tally of checker verdicts against the labels of the math evaluation set, shared by its
test and its benchmark."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any


def tally(
    pairs: Iterable[tuple[dict[str, Any], bool]],
    keys: Callable[[dict[str, Any]], Iterable[str]],
) -> dict[str, Counter[str]]:
    """Per key: unambiguous ``pairs``, ``right`` verdicts, ``wrong`` pairs (labelled wrong),
    ``false_accepts`` and ``false_rejects``. ``pairs`` holds (eval row, verdict); ``keys`` names
    the groups a row counts in. Ambiguous rows are skipped."""
    out: dict[str, Counter[str]] = {}
    for row, got in pairs:
        if row["label"] == "ambiguous":
            continue
        want = row["label"] == "correct"
        for key in keys(row):
            c = out.setdefault(key, Counter())
            c["pairs"] += 1
            c["wrong"] += not want
            c["right"] += got == want
            c["false_accepts"] += got and not want
            c["false_rejects"] += want and not got
    return out
