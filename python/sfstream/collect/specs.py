"""A named dataset: its splits, its reader for a data directory, its Hugging Face copy; and
the loaders the dataset modules build their readers from."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sfstream.collect.files import iter_jsonl, json_rows
from sfstream.collect.hf import one_line
from sfstream.collect.rows import ProblemDict, Row, RowError, SkipRow
from sfstream.errors import ConfigError

__all__ = [
    "DatasetSpec",
    "HfSource",
    "LocalLoader",
    "Mapper",
    "json_loader",
    "jsonl_loader",
    "map_row",
    "same_splits",
]

log = logging.getLogger("sfstream.collect")

Mapper = Callable[[Row, int, str], ProblemDict | None]
LocalLoader = Callable[[Path, str], Iterator[ProblemDict | None] | None]


@dataclass(frozen=True)
class HfSource:
    """Where a named dataset lives on the Hugging Face hub and how its rows map."""

    name: str
    config: str | None
    splits: Mapping[str, str]  # our split -> hub split
    mapper: Mapper


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset: its splits, its reader for a data directory, its hub fallback.

    Attributes:
        name: The SOURCE name (``math500``).
        description: One line for help texts.
        splits: Splits it has; the first is the default.
        local: ``local(data_dir, split)`` returns an iterator of Problem dicts (None for a row
            that is skipped), or None when the data directory does not hold this split.
        hf: The Hugging Face fallback, if there is a well-known copy.
        license: The dataset's license as an SPDX identifier, or None when it grants none.
        rights: Who holds the rights to texts that license does not cover (the competitions
            and judges the statements come from), for dataset cards.
    """

    name: str
    description: str
    splits: tuple[str, ...]
    local: LocalLoader
    hf: HfSource | None = None
    license: str | None = None
    rights: str | None = None

    @property
    def default_split(self) -> str:
        """The split used when none is asked for."""
        return self.splits[0]


def jsonl_loader(rel: str | Callable[[str], str], mapper: Mapper) -> LocalLoader:
    def load(data_dir: Path, split: str) -> Iterator[ProblemDict | None] | None:
        path = data_dir / (rel(split) if callable(rel) else rel)
        if not path.is_file():
            return None

        def gen() -> Iterator[ProblemDict | None]:
            for index, (lineno, row) in enumerate(iter_jsonl(path)):
                yield map_row(mapper, row, index, split, f"{path}: line {lineno}")

        return gen()

    return load


def json_loader(rel: str, mapper: Mapper) -> LocalLoader:
    def load(data_dir: Path, split: str) -> Iterator[ProblemDict | None] | None:
        path = data_dir / rel
        if not path.is_file():
            return None

        def gen() -> Iterator[ProblemDict | None]:
            for index, row in enumerate(json_rows(path)):
                yield map_row(mapper, row, index, split, f"{path}: row {index + 1}")

        return gen()

    return load


def map_row(mapper: Mapper, row: Any, index: int, split: str, where: str) -> ProblemDict | None:
    if not isinstance(row, Mapping):
        raise ConfigError(f"{where}: expected an object, got {type(row).__name__}")
    try:
        return mapper(row, index, split)
    except SkipRow as exc:
        log.warning("%s: skipped: %s", where, exc)
        return None
    except RowError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: unexpected record ({one_line(exc)})") from None


def same_splits(*splits: str) -> dict[str, str]:
    return {s: s for s in splits}
