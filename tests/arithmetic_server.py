"""Synthetic arithmetic problems at any count, and an instant OpenAI-compatible server that
solves them: for a prompt holding ``Compute A + B.`` it answers with a short worked solution
ending in ``\\boxed{A+B}``, so every sample verifies as correct and a test can count.

The server runs as its own process (so it never shares the measured interpreter), prints its
port and serves until killed::

    python tests/arithmetic_server.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from instant_fake_server import InstantFakeServer, serve_until_interrupted

__all__ = ["problem_line", "respond", "write_problems"]

_SUM = re.compile(r"Compute (\d+) \+ (\d+)\.")


def respond(body: dict[str, Any], index: int) -> tuple[str, str]:
    messages = body.get("messages") or [{"content": body.get("prompt", "")}]
    found = _SUM.search(str(messages[-1].get("content", "")))
    if found is None:
        return "I cannot tell what is asked.", "stop"
    a, b = int(found[1]), int(found[2])
    return (
        f"We add the two numbers: {a} + {b} = {a + b}.\n\nTherefore, the answer is "
        f"\\boxed{{{a + b}}}.",
        "stop",
    )


def problem_line(i: int) -> bytes:
    """Problem ``i`` as one NDJSON line of a Problem record."""
    a, b = (i * 7919) % 100_000, (i * 104_729) % 1000
    return (
        b'{"id":"arith/%d","domain":"math","source":"arith","problem":"Compute %d + %d.",'
        b'"answer":"%d"}\n' % (i, a, b, a + b)
    )


def write_problems(path: Path, count: int) -> Path:
    """Writes ``count`` problems to ``path`` (a million take about 100 MB)."""
    with open(path, "wb") as f:
        batch: list[bytes] = []
        for i in range(count):
            batch.append(problem_line(i))
            if len(batch) == 10_000:
                f.write(b"".join(batch))
                batch.clear()
        f.write(b"".join(batch))
    return path


def main() -> None:
    serve_until_interrupted(InstantFakeServer(respond))


if __name__ == "__main__":
    main()
