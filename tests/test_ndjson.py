"""NDJSON framing and the bad-input policy: every bad line gets one message naming it."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import pytest
from sfstream.errors import InputError
from sfstream.ndjson import (
    ReadStats,
    dumps,
    iter_framed,
    iter_lines,
    iter_objects,
    open_writer,
    read_records,
    read_records_sync,
)
from sfstream.records import Problem

GOOD = b'{"id": "p1", "domain": "math", "source": "t", "problem": "1+1?", "answer": "2"}\n'


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_bytes(data)
    return path


def fail_message(path: Path, **kw: Any) -> str:
    with pytest.raises(InputError) as info:
        list(read_records_sync(path, Problem.from_dict, **kw))
    return str(info.value)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b'{"id": "p", "domain": "math"', "line 2: invalid JSON"),
        (b"[1, 2]", "line 2: expected a JSON object, got an array"),
        (b'"text"', "line 2: expected a JSON object, got a string"),
        (
            b'{"id": "p", "domain": "math", "source": "t", "problem": "q"}',
            "line 2: missing required field 'answer'",
        ),
        (
            b'{"domain": "math", "source": "t", "problem": "q", "answer": "1"}',
            "line 2: missing required field 'id'",
        ),
        (
            b'{"id": 7, "domain": "math", "source": "t", "problem": "q", "answer": "1"}',
            "line 2: field 'id' must be a string, got integer",
        ),
        (
            b'{"id": "p", "domain": "bio", "source": "t", "problem": "q"}',
            "line 2: field 'domain' must be 'math' or 'code'",
        ),
        (
            # The shape of tests is the record's; what they hold is judged at verify time.
            b'{"id": "p", "domain": "code", "source": "t", "problem": "q", "tests": ["1"]}',
            "line 2: field 'tests' must be an object, got array",
        ),
        (b'{"id": "p\xff", "domain": "math"}', "line 2: not valid UTF-8 (byte 10 of the line)"),
    ],
)
def test_bad_line_names_line_and_reason(tmp_path: Path, line: bytes, expected: str) -> None:
    path = write(tmp_path, GOOD + line + b"\n" + GOOD)
    message = fail_message(path)
    assert message.startswith(str(path) + ": ")
    assert expected in message


def test_overlong_line_is_refused_without_holding_it(tmp_path: Path) -> None:
    # A 100 MB line: refused by its number, and the lines after it still read with skip.
    path = tmp_path / "big.jsonl"
    with path.open("wb") as f:
        f.write(GOOD)
        f.write(b'{"id": "' + b"x" * (100 * 1024 * 1024) + b'"}\n')
        f.write(GOOD)
    message = fail_message(path, max_line_bytes=1 << 20)
    assert "line 2: line is longer than the limit of 1,048,576 bytes" in message
    stats = ReadStats()
    got = list(
        read_records_sync(
            path, Problem.from_dict, on_error="skip", max_line_bytes=1 << 20, stats=stats
        )
    )
    assert [p.id for p in got] == ["p1", "p1"]
    assert stats.skipped == 1 and stats.skipped_lines[0][0] == 2


def test_skip_reports_each_line_on_stderr(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, GOOD + b"not json\n" + b"\n" + b"[]\n" + GOOD)
    stats = ReadStats()
    with caplog.at_level(logging.WARNING, logger="sfstream"):
        got = list(read_records_sync(path, Problem.from_dict, on_error="skip", stats=stats))
    assert len(got) == 2 and stats.read == 2 and stats.skipped == 2
    assert [n for n, _ in stats.skipped_lines] == [2, 4]
    assert "line 2 skipped: invalid JSON" in caplog.text
    assert "line 4 skipped: expected a JSON object" in caplog.text


def test_framing_handles_chunk_boundaries_crlf_and_missing_final_newline() -> None:
    data = b"".join(b'{"k": %d}\r\n' % i for i in range(20000)) + b'{"k": "last"}'
    lines = list(iter_lines(io.BytesIO(data), max_line_bytes=100))
    assert len(lines) == 20001
    assert lines[-1] == (20001, b'{"k": "last"}')
    assert lines[12345] == (12346, b'{"k": 12345}\r')


def test_framed_lines_know_where_they_are() -> None:
    # Lines of varying length across the reader's 64 KiB chunks, a blank line, a torn tail.
    body = [b'{"k": %d, "pad": "%s"}' % (i, b"x" * (i % 97)) for i in range(5000)]
    data = b"\n".join(body[:2500]) + b"\n\n" + b"\n".join(body[2500:]) + b"\n" + b'{"torn'
    lines = list(iter_framed(io.BytesIO(data)))
    assert len(lines) == 5002
    for line in lines:
        raw = line.raw
        assert isinstance(raw, bytes)
        assert data[line.offset : line.offset + line.size] == raw
    assert all(line.terminated for line in lines[:-1])
    assert lines[-1].raw == b'{"torn' and not lines[-1].terminated
    assert lines[2500].raw == b"" and lines[2501].number == 2502


def test_iter_objects_numbers_lines_and_keeps_big_integers_exact() -> None:
    data = b'{"a": 1}\n\n{"a": 100000000000000000001}\n'
    assert list(iter_objects(io.BytesIO(data), source="s")) == [
        (1, {"a": 1}),
        (3, {"a": 10**20 + 1}),
    ]
    with pytest.raises(InputError, match=r"^s: line 2: expected a JSON object, got an array$"):
        list(iter_objects(io.BytesIO(b'{"a": 1}\n[1]\n'), source="s"))


def test_round_trip_keeps_unknown_fields(tmp_path: Path) -> None:
    record = Problem.from_dict(
        {
            "id": "a",
            "domain": "math",
            "source": "s",
            "problem": "q",
            "answer": 0.5,
            "custom": {"x": [1, 2]},
        }
    )
    assert record.answer == "0.5"
    path = write(tmp_path, dumps(record) * 2)
    again = list(read_records_sync(path, Problem.from_dict))
    assert again == [record, record]
    assert again[0].to_dict()["custom"] == {"x": [1, 2]}


@pytest.mark.anyio
async def test_async_reader_and_writer(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD * 3)
    got = [p async for p in read_records(path, Problem.from_dict)]
    assert len(got) == 3
    out = tmp_path / "out" / "o.jsonl"
    async with open_writer(out) as w:
        await w.write_many(got)
        assert not out.exists()  # written under .partial until closed
    assert w.written == 3
    assert out.read_bytes() == b"".join(dumps(p) for p in got)


@pytest.mark.anyio
async def test_writer_leaves_partial_file_on_error(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    with pytest.raises(RuntimeError):
        async with open_writer(out) as w:
            await w.write({"a": 1})
            raise RuntimeError("boom")
    assert not out.exists()
    assert w.name.endswith(".partial")
    assert (tmp_path / "o.jsonl.partial").read_bytes() == b'{"a":1}\n'
