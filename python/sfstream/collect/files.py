"""Local data files: ``.jsonl``/``.ndjson`` (optionally ``.gz``), ``.json`` and ``.parquet``.

JSON Lines are read with the package's NDJSON reader (:mod:`sfstream.ndjson`): line by line,
with its line-length limit, line numbers in messages, and integers exact at any size.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from sfstream import _exactjson
from sfstream.errors import ConfigError, InputError
from sfstream.ndjson import iter_objects

__all__ = [
    "FILE_SUFFIXES",
    "file_kind",
    "iter_file_rows",
    "iter_jsonl",
    "json_rows",
    "read_json",
    "read_text",
]


def read_text(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from None


def read_json(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return _exactjson.loads(raw)
    except _exactjson.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; ``.gz`` files are decompressed.

    Raises:
        ConfigError: the file cannot be read, or a line is not one JSON object (named by its
            number).
    """
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            yield from iter_objects(fh, source=str(path))
    except InputError as exc:
        raise ConfigError(str(exc)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None


def json_rows(path: Path) -> list[Any]:
    data = read_json(path)
    if isinstance(data, Mapping) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise ConfigError(f'{path}: expected a JSON list of objects or {{"data": [...]}}')
    return data


def _parquet_rows(path: Path) -> Iterator[Any]:
    try:
        import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise ConfigError(
            f"{path}: reading .parquet files needs pyarrow (pip install 'sfstream[parquet]')"
        ) from None
    try:
        pf = pq.ParquetFile(path)
        for batch in pf.iter_batches(batch_size=512):
            yield from batch.to_pylist()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    except Exception as exc:  # pyarrow raises its own ArrowInvalid for a corrupt file
        raise ConfigError(f"{path}: not a readable parquet file ({exc})") from None


FILE_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".json", ".parquet")


def file_kind(path: Path) -> str | None:
    """``"jsonl"``, ``"json"`` or ``"parquet"`` from the file name, else None."""
    name = path.name.lower()
    if name.endswith((".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")):
        return "jsonl"
    if name.endswith(".json"):
        return "json"
    if name.endswith(".parquet"):
        return "parquet"
    return None


def iter_file_rows(path: Path) -> Iterator[tuple[str, Any]]:
    """(location, row) for each row of a local data file.

    ``location`` is ``"line N"`` (JSONL, 1-based line number) or ``"row N"`` (JSON list and
    parquet, 1-based), for error messages.

    Raises:
        ConfigError: the file cannot be read or is not in the format its name says.
    """
    kind = file_kind(path)
    if kind == "jsonl":
        for lineno, value in iter_jsonl(path):
            yield f"line {lineno}", value
    elif kind == "json":
        for i, value in enumerate(json_rows(path), 1):
            yield f"row {i}", value
    elif kind == "parquet":
        for i, value in enumerate(_parquet_rows(path), 1):
            yield f"row {i}", value
    else:
        raise ConfigError(
            f"{path}: unsupported file type (expected one of {', '.join(FILE_SUFFIXES)})"
        )
