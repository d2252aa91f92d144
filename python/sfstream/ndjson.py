"""NDJSON framing: one JSON object per line, UTF-8, ``\\n``-terminated.

This is the one NDJSON reader of the package (the command line, local ``.jsonl`` sources, the
bundled sample, the generation journal and recorded completions all read through it). It frames
lines itself so that a line longer than ``max_line_bytes`` is refused without being held in
memory, every problem names its line, and integers of any size stay exact. With
``on_error="fail"`` the first bad line raises :class:`~sfstream.errors.InputError`; with
``"skip"`` it is reported on stderr (with its number and reason) and reading goes on. Blank
lines are ignored.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, NamedTuple, TypeVar

import anyio

from sfstream import _exactjson
from sfstream.errors import InputError, RecordError

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "FramedLine",
    "NdjsonWriter",
    "OnError",
    "ReadStats",
    "decode_line",
    "dumps",
    "iter_framed",
    "iter_lines",
    "iter_objects",
    "open_writer",
    "read_records",
    "read_records_sync",
]

log = logging.getLogger("sfstream")

DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024
_CHUNK = 1 << 16

OnError = Literal["fail", "skip"]
T = TypeVar("T")


@dataclass
class ReadStats:
    """What a reader saw: records read and lines skipped, with their reasons."""

    read: int = 0
    skipped: int = 0
    skipped_lines: list[tuple[int, str]] = field(default_factory=list)


class _Oversize:
    """Marks a line that exceeded the size limit (its bytes were discarded)."""

    def __init__(self, size: int) -> None:
        self.size = size


class FramedLine(NamedTuple):
    """One line of a stream, as framed.

    Attributes:
        number: 1-based line number.
        offset: Byte offset of the line's first byte in the stream.
        size: Its length in bytes, without the ``\\n``.
        raw: Its bytes, or a marker for a line over the size limit (whose bytes were dropped).
        terminated: Whether it ended with ``\\n`` (the last line of a stream may not).
    """

    number: int
    offset: int
    size: int
    raw: bytes | _Oversize
    terminated: bool


class _Framer:
    """Splits a byte stream into lines, discarding the body of any over-long line."""

    def __init__(self, max_line_bytes: int) -> None:
        self.max = max_line_bytes
        self.buf = bytearray()
        self.lineno = 0
        self.fed = 0  # bytes fed before the current chunk
        self.start = 0  # offset of the current line
        self.skipping = 0  # bytes discarded so far of the current over-long line

    def feed(self, chunk: bytes) -> Iterator[FramedLine]:
        start = 0
        while True:
            nl = chunk.find(b"\n", start)
            piece = chunk[start:] if nl < 0 else chunk[start:nl]
            if self.skipping:
                self.skipping += len(piece)
            elif len(self.buf) + len(piece) > self.max:
                self.skipping = len(self.buf) + len(piece)
                self.buf.clear()
            else:
                self.buf += piece
            if nl < 0:
                self.fed += len(chunk)
                return
            yield self._line(terminated=True)
            start = nl + 1
            self.start = self.fed + start

    def finish(self) -> Iterator[FramedLine]:
        if self.skipping or self.buf.strip():
            yield self._line(terminated=False)
        self.buf.clear()

    def _line(self, *, terminated: bool) -> FramedLine:
        self.lineno += 1
        raw: bytes | _Oversize
        if self.skipping:
            raw, size = _Oversize(self.skipping), self.skipping
            self.skipping = 0
        else:
            raw = bytes(self.buf)
            size = len(raw)
            self.buf.clear()
        return FramedLine(self.lineno, self.start, size, raw, terminated)


def decode_line(raw: bytes | _Oversize, max_line_bytes: int) -> dict[str, Any] | None:
    """Decodes one framed line into a JSON object; None for a blank line.

    Raises:
        ValueError: the line is not one valid UTF-8 JSON object (the message says why).
    """
    if isinstance(raw, _Oversize):
        raise ValueError(
            f"line is longer than the limit of {max_line_bytes:,} bytes "
            f"({raw.size:,} bytes or more)"
        )
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if not raw.strip():
        return None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"not valid UTF-8 (byte {e.start + 1} of the line)") from None
    try:
        value = _exactjson.loads(raw)
    except _exactjson.JSONDecodeError as e:
        # orjson counts lines and columns within the text it was given: one line here.
        reason = re.sub(r": line \d+ column \d+ \(char \d+\)$", "", str(e))
        raise ValueError(f"invalid JSON at byte {e.pos + 1}: {reason}") from None
    if not isinstance(value, dict):
        kind = {
            list: "an array",
            str: "a string",
            int: "a number",
            float: "a number",
            bool: "a boolean",
            type(None): "null",
        }.get(type(value), "a value")
        raise ValueError(f"expected a JSON object, got {kind}")
    return value


def _source_name(path: str | Path) -> str:
    return "<stdin>" if str(path) == "-" else str(path)


def _records(
    lines: Iterable[FramedLine],
    parse: Callable[[dict[str, Any]], T],
    *,
    source: str,
    on_error: OnError,
    max_line_bytes: int,
    stats: ReadStats,
) -> Iterator[tuple[int, T]]:
    """Decodes framed lines into numbered records, applying the bad-line policy."""
    for line in lines:
        try:
            obj = decode_line(line.raw, max_line_bytes)
            if obj is None:
                continue
            record = parse(obj)
        except (ValueError, RecordError) as e:
            reason = str(e)
            if on_error == "fail":
                raise InputError(source, line.number, reason) from None
            stats.skipped += 1
            stats.skipped_lines.append((line.number, reason))
            log.warning("%s: line %d skipped: %s", source, line.number, reason)
            continue
        stats.read += 1
        yield line.number, record


def iter_framed(
    stream: IO[bytes], max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> Iterator[FramedLine]:
    """Frames a binary stream into lines with their offsets, reading it in chunks."""
    framer = _Framer(max_line_bytes)
    read = getattr(stream, "read1", stream.read)
    while chunk := read(_CHUNK):
        yield from framer.feed(chunk)
    yield from framer.finish()


def iter_lines(
    stream: IO[bytes], max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> Iterator[tuple[int, bytes | _Oversize]]:
    """Frames a binary stream into numbered lines (an over-long line is marked, not kept)."""
    for line in iter_framed(stream, max_line_bytes):
        yield line.number, line.raw


def iter_objects(
    stream: IO[bytes],
    *,
    source: str,
    on_error: OnError = "fail",
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    stats: ReadStats | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each JSON object of a binary stream, blocking.

    Args:
        stream: An open binary file (a ``gzip`` file too).
        source: Its name, for messages.
        on_error, max_line_bytes, stats: As for :func:`read_records_sync`.

    Raises:
        InputError: a bad line with ``on_error="fail"``.
    """
    yield from _records(
        iter_framed(stream, max_line_bytes),
        _identity,
        source=source,
        on_error=on_error,
        max_line_bytes=max_line_bytes,
        stats=stats if stats is not None else ReadStats(),
    )


def _identity(obj: dict[str, Any]) -> dict[str, Any]:
    return obj


def read_records_sync(
    path: str | Path,
    parse: Callable[[dict[str, Any]], T],
    *,
    on_error: OnError = "fail",
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    stats: ReadStats | None = None,
) -> Iterator[T]:
    """Reads records from an NDJSON file (``-`` for stdin), blocking.

    Args:
        path: A file path, or ``-`` for standard input.
        parse: Builds a record from a decoded object; raises RecordError when invalid.
        on_error: ``fail`` raises on the first bad line, ``skip`` reports it and goes on.
        max_line_bytes: Longest line accepted.
        stats: Collects counts of records read and lines skipped.

    Raises:
        InputError: a bad line with ``on_error="fail"``.
    """
    stats = stats if stats is not None else ReadStats()
    source = _source_name(path)
    with _open_binary(path) as f:
        for _, record in _records(
            iter_framed(f, max_line_bytes),
            parse,
            source=source,
            on_error=on_error,
            max_line_bytes=max_line_bytes,
            stats=stats,
        ):
            yield record


class _NoClose:
    """Context manager over a standard stream that must stay open."""

    def __init__(self, f: IO[bytes]) -> None:
        self.f = f

    def __enter__(self) -> IO[bytes]:
        return self.f

    def __exit__(self, *exc: object) -> None:
        return None


def _open_binary(path: str | Path) -> Any:
    if str(path) == "-":
        return _NoClose(sys.stdin.buffer)
    return open(path, "rb")


async def read_records(
    path: str | Path,
    parse: Callable[[dict[str, Any]], T],
    *,
    on_error: OnError = "fail",
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    stats: ReadStats | None = None,
) -> AsyncIterator[T]:
    """Reads records from an NDJSON file (``-`` for stdin) without blocking the event loop.

    Reads in chunks from a worker thread and yields each record as soon as its line is complete,
    so a pipe from another process streams. Arguments are as for :func:`read_records_sync`.

    Raises:
        InputError: a bad line with ``on_error="fail"``.
    """
    stats = stats if stats is not None else ReadStats()
    source = _source_name(path)
    framer = _Framer(max_line_bytes)
    with _open_binary(path) as f:
        read = getattr(f, "read1", f.read)
        while True:
            # A read from a pipe may block for as long as the writer likes: do not make a
            # cancellation wait for it.
            chunk = await anyio.to_thread.run_sync(read, _CHUNK, abandon_on_cancel=True)
            lines = framer.feed(chunk) if chunk else framer.finish()
            for _, record in _records(
                lines,
                parse,
                source=source,
                on_error=on_error,
                max_line_bytes=max_line_bytes,
                stats=stats,
            ):
                yield record
            if not chunk:
                return


def dumps(record: Any) -> bytes:
    """One NDJSON line (with its newline) for a record or a plain dict."""
    obj = record.to_dict() if hasattr(record, "to_dict") else record
    return _exactjson.dumps(obj, newline=True)


class NdjsonWriter:
    """Writes records as NDJSON lines, flushing each batch so a downstream pipe sees them.

    Attributes:
        written: Records written so far.
        name: Where they go (a path, or ``<stdout>``).
    """

    def __init__(self, f: IO[bytes], name: str) -> None:
        self._f = f
        self.name = name
        self.written = 0

    def _write_flush(self, data: bytes) -> None:
        self._f.write(data)
        self._f.flush()

    async def write(self, record: Any) -> None:
        """Writes one record."""
        await self.write_many([record])

    async def write_many(self, records: list[Any]) -> None:
        """Writes several records with one system call and one flush."""
        if not records:
            return
        data = b"".join(dumps(r) for r in records)
        await anyio.to_thread.run_sync(self._write_flush, data)
        self.written += len(records)


@asynccontextmanager
async def open_writer(path: str | Path) -> AsyncIterator[NdjsonWriter]:
    """Opens an NDJSON writer on a path, or on stdout for ``-``.

    A file is written to ``PATH.partial`` and renamed into place only when the writer closes
    without an error, so a crashed run never leaves a file that looks complete.
    """
    if str(path) == "-":
        yield NdjsonWriter(sys.stdout.buffer, "<stdout>")
        return
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(final.name + ".partial")
    f = open(partial, "wb")  # noqa: ASYNC230 - a local file; closed below
    writer = NdjsonWriter(f, str(final))
    try:
        yield writer
    except BaseException:
        f.close()
        writer.name = str(partial)
        raise
    f.close()
    partial.replace(final)
