"""Deterministic partition of problems into shards, for job arrays (``--shard I/N``).

A problem belongs to shard ``I`` of ``N`` (``0 <= I < N``) when the first 8 bytes of the
BLAKE2b digest of its UTF-8 id, read as a big-endian integer, are ``I`` modulo ``N``: the same
on every machine and every Python version (Python's own ``hash`` of a string changes from one
process to the next). The shards of one ``N`` are disjoint and together hold every problem;
``--limit`` and ``--seed`` apply before the partition, so every shard sees the same selection.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from sfstream.errors import ConfigError
from sfstream.records import Problem

__all__ = ["Shard", "shard_of"]


def shard_of(problem_id: str, count: int) -> int:
    """The shard (``0 .. count-1``) that ``problem_id`` belongs to."""
    digest = hashlib.blake2b(problem_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count``."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not (isinstance(self.count, int) and self.count >= 1):
            raise ConfigError(f"shard count must be at least 1, got {self.count!r}")
        if not (isinstance(self.index, int) and 0 <= self.index < self.count):
            raise ConfigError(
                f"shard index must be in 0..{self.count - 1}, got {self.index!r} "
                f"(shards are numbered from 0: 0/{self.count} .. {self.count - 1}/{self.count})"
            )

    @classmethod
    def parse(cls, text: str) -> Shard:
        """Reads ``I/N``."""
        index, sep, count = str(text).partition("/")
        try:
            if not sep:
                raise ValueError
            return cls(int(index), int(count))
        except ValueError:
            raise ConfigError(f"shard must be I/N like 0/4, got {text!r}") from None

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, problem_id: str) -> bool:
        return shard_of(problem_id, self.count) == self.index

    async def filter(self, problems: AsyncIterable[Problem]) -> AsyncIterator[Problem]:
        """The problems of this shard, in input order."""
        async for problem in problems:
            if self.holds(problem.id):
                yield problem
