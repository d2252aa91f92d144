"""The generation journal: an append-only NDJSON file that makes a run resumable after a crash.

Each line is one sample as it arrived from the server::

    {"id": ..., "sample_index": 3, "request": "<hash>", "max_tokens": 512,
     "model": ..., "completion": ..., "reasoning": ..., "finish_reason": "stop", "usage": {...}}

``request`` hashes every request parameter that changes the output (model, prompt, sampling
settings, run seed, server extras) except the length limit, which is kept beside it so that a
rerun with a larger limit can reuse samples that finished on their own (``finish_reason``
"stop") under a smaller one. A changed temperature, prompt template or seed changes the hash,
so those samples are generated again.

Durability: the lines of a response are written with one ``write(2)`` as soon as it arrives and
before its samples go downstream, so a ``kill -9`` loses only responses that had not arrived;
``fsync`` runs about once a second (a power cut may lose that second). A line cut short by a
crash is dropped when the journal is opened again. Error samples are not journaled: a rerun
asks again. The file is locked while a run uses it, so two runs cannot interleave.

Opening reads the file once, line by line through the NDJSON reader (:mod:`sfstream.ndjson`),
and keeps only an index: where each sample's line is. A reused sample is read back with one
``pread``, so memory does not grow with the size of the completions. Lines appended while the
journal is open are not indexed (a run looks each problem up once, before requesting it), so
memory does not grow with the samples a run generates either.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio

from sfstream import _exactjson
from sfstream.errors import ConfigError
from sfstream.ndjson import DEFAULT_MAX_LINE_BYTES, decode_line, iter_framed
from sfstream.records import Sample

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows has no flock
    fcntl = None  # type: ignore[assignment]

__all__ = ["Journal"]

log = logging.getLogger("sfstream")

_FIELDS = ("model", "completion", "reasoning", "finish_reason", "usage")


@dataclass(frozen=True)
class _Entry:
    max_tokens: int
    finish_reason: str
    offset: int
    length: int


class Journal:
    """An open journal (use it as an async context manager).

    Args:
        path: The journal file; created when missing.
        sync_interval: Seconds between ``fsync`` calls while there are unsynced lines.

    Attributes:
        loaded: Samples found in the journal when it was opened.
        written: Samples appended by this run.
    """

    def __init__(self, path: str | Path, *, sync_interval: float = 1.0) -> None:
        self.path = Path(path)
        self.sync_interval = sync_interval
        self.loaded = 0
        self.written = 0
        self._fd = -1
        self._size = 0
        self._dirty = False
        self._index: dict[tuple[str, int, str], list[_Entry]] = {}

    # -- opening --------------------------------------------------------------------------

    async def __aenter__(self) -> Journal:
        await anyio.to_thread.run_sync(self._open)
        return self

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as e:
            raise ConfigError(f"cannot open journal {self.path}: {e.strerror or e}") from None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise ConfigError(
                    f"journal {self.path} is in use by another sfstream process"
                ) from None
        self._fd = fd
        try:
            self._load()
        except BaseException:
            self._close()
            raise

    def _load(self) -> None:
        """Streams the file once, keeping only the index (where each sample's line is)."""
        end = 0
        bad = 0
        with open(self._fd, "rb", closefd=False) as f:
            for line in iter_framed(f):
                if not line.terminated:
                    break  # cut short by a crash: dropped below
                end = line.offset + line.size + 1
                try:
                    row = decode_line(line.raw, DEFAULT_MAX_LINE_BYTES)
                    if row is None:
                        raise ValueError("blank line")
                    key = (row["id"], row["sample_index"], row["request"])
                    entry = _Entry(row["max_tokens"], row["finish_reason"], line.offset, line.size)
                except (ValueError, KeyError, TypeError):
                    bad += 1
                else:
                    self._index.setdefault(key, []).append(entry)
                    self.loaded += 1
        if end < os.fstat(self._fd).st_size:
            # The last line was cut short by a crash: drop it so appends start on a new line.
            os.ftruncate(self._fd, end)
        self._size = end
        if bad:
            log.warning("journal %s: %d unreadable line(s) ignored", self.path, bad)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self._close)

    def _close(self) -> None:
        if self._fd >= 0:
            try:
                if self._dirty:
                    os.fsync(self._fd)
            finally:
                os.close(self._fd)  # releases the lock
                self._fd = -1

    # -- reading and writing --------------------------------------------------------------

    def lookup(
        self, problem_id: str, index: int, request: str, max_tokens: int
    ) -> dict[str, Any] | None:
        """The journaled sample fields for one sample, or None.

        A sample generated with the same request and the same length limit is reused whatever
        its finish reason (a truncated sample stays truncated); one generated under a smaller
        limit only if it finished on its own.
        """
        entries = self._index.get((problem_id, index, request))
        if not entries:
            return None
        chosen = None
        for entry in reversed(entries):  # the newest first
            if entry.max_tokens == max_tokens:
                chosen = entry
                break
            if chosen is None and entry.finish_reason == "stop" and entry.max_tokens < max_tokens:
                chosen = entry
        if chosen is None:
            return None
        row = _exactjson.loads(os.pread(self._fd, chosen.length, chosen.offset))
        return {k: row.get(k) for k in _FIELDS}

    def append(self, samples: list[Sample], request: str, max_tokens: int) -> None:
        """Appends the samples of one response (error samples are skipped) in one write.

        Appended samples are found by :meth:`lookup` once the journal is opened again.
        """
        lines = []
        for s in samples:
            if s.finish_reason == "error":
                continue
            lines.append(
                _exactjson.dumps(
                    {
                        "id": s.id,
                        "sample_index": s.sample_index,
                        "request": request,
                        "max_tokens": max_tokens,
                        "model": s.model,
                        "completion": s.completion,
                        "reasoning": s.reasoning,
                        "finish_reason": s.finish_reason,
                        "usage": s.usage,
                    }
                )
            )
        if not lines:
            return
        data = b"\n".join(lines) + b"\n"
        view = memoryview(data)
        while view:
            done = os.write(self._fd, view)
            view = view[done:]
        # Not indexed: generate looks a problem up once, before requesting it, so what this
        # run appends is never looked up again, and memory stays flat however long the run.
        self._size += len(data)
        self.written += len(lines)
        self._dirty = True

    async def sync_forever(self) -> None:
        """Calls ``fsync`` every ``sync_interval`` seconds while there is something to sync."""
        while True:
            await anyio.sleep(self.sync_interval)
            if self._dirty and self._fd >= 0:
                self._dirty = False
                await anyio.to_thread.run_sync(os.fsync, self._fd)
