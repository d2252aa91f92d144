"""Progress on stderr: one line for all running stages, redrawn in place on a terminal and
written every few seconds otherwise (so logs of a long job in a file stay readable).

Stages count into a :class:`StageProgress`; a :class:`ProgressBoard` renders them all, e.g.::

    generate 120/150 · 4 in flight · 310 tok/s · 2 retries | verify 98 · 83 correct · 45/s
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import IO

import anyio

__all__ = ["ProgressBoard", "StageProgress"]


@dataclass
class StageProgress:
    """Counters of one stage. Stages only add to them; the board reads them.

    Attributes:
        name: Stage name shown on the line.
        done: Records the stage has finished.
        total: Records expected, when known.
        in_flight: Records being worked on now.
        correct: Records judged correct (verify).
        errors: Records that failed (kept as data, e.g. a generation error).
        retries: Requests retried.
        tokens: Completion tokens received.
        prompt_tokens: Prompt tokens sent (generate; shown in the summary, not the line).
        reused: Results taken from a journal instead of recomputed.
        samples: Records emitted (generate: samples, while ``done`` counts problems).
        limit: The current in-flight limit, when it moves (adaptive concurrency).
    """

    name: str
    done: int = 0
    total: int | None = None
    in_flight: int = 0
    correct: int = 0
    errors: int = 0
    retries: int = 0
    tokens: int = 0
    reused: int = 0
    prompt_tokens: int = 0
    samples: int = 0
    limit: int | None = None
    started: float = field(default_factory=time.monotonic)

    def render(self, now: float | None = None) -> str:
        """The stage's part of the progress line."""
        now = now or time.monotonic()
        elapsed = max(now - self.started, 1e-9)
        parts = [f"{self.name} {self.done}" + (f"/{self.total}" if self.total else "")]
        if self.in_flight or self.limit:
            limit = f" (limit {self.limit})" if self.limit else ""
            parts.append(f"{self.in_flight} in flight{limit}")
        if self.correct:
            parts.append(f"{self.correct} correct")
        if self.tokens:
            parts.append(f"{self.tokens / elapsed:,.0f} tok/s")
        elif self.done:
            parts.append(f"{self.done / elapsed:,.1f}/s")
        if self.reused:
            parts.append(f"{self.reused} reused")
        if self.retries:
            parts.append(f"{self.retries} retries")
        if self.errors:
            parts.append(f"{self.errors} errors")
        if self.total and self.done and self.done < self.total:
            eta = (self.total - self.done) * elapsed / self.done
            parts.append(f"ETA {_duration(eta)}")
        return " · ".join(parts)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class ProgressBoard:
    """Renders the progress of several stages on stderr.

    Args:
        stream: Where to draw (stderr by default).
        enabled: False draws nothing (``--quiet``).
        interval: Seconds between redraws on a terminal; off a terminal a line is written
            every ``log_interval`` seconds.
    """

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        enabled: bool = True,
        interval: float = 0.25,
        log_interval: float = 10.0,
    ) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval if self.tty else log_interval
        self.stages: list[StageProgress] = []
        self._drawn = 0

    def stage(self, name: str, total: int | None = None) -> StageProgress:
        """Registers a stage and returns its counters."""
        p = StageProgress(name, total=total)
        self.stages.append(p)
        return p

    def line(self) -> str:
        """The current progress line."""
        now = time.monotonic()
        return " | ".join(s.render(now) for s in self.stages)

    def draw(self) -> None:
        """Draws the line once."""
        if not self.enabled or not self.stages:
            return
        text = self.line()
        if self.tty:
            pad = max(self._drawn - len(text), 0)
            self.stream.write("\r" + text + " " * pad)
            self._drawn = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self) -> None:
        """Draws the final state and ends the line."""
        if not self.enabled or not self.stages:
            return
        self.draw()
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
        self._drawn = 0

    async def run(self) -> None:
        """Redraws until cancelled (start it in the pipeline's task group)."""
        if not self.enabled:
            return
        while True:
            await anyio.sleep(self.interval)
            self.draw()
