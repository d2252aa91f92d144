"""The collect stage: problems from named datasets, local files and Hugging Face.

A SOURCE is one of

* ``sample`` -- the small sample bundled in the package (``sfstream/data/problems.jsonl``);
* a dataset name -- ``math``, ``math500``, ``aime24``, ``aime25``, ``amc23``, ``aime``,
  ``gsm8k``, ``apps``, ``code_contests``, ``codeforces``, ``livecodebench``, ``humaneval``,
  ``mbpp`` -- read from a data directory laid out like the shared data (``--data-dir``, else
  ``$SFSTREAM_DATA_DIR``), or, when it is not there and the ``datasets`` package is installed,
  from its well-known Hugging Face copy;
* a local ``.jsonl``/``.ndjson`` (optionally ``.gz``), ``.json`` or ``.parquet`` file, whose
  rows are Problem records or are mapped by common field names;
* ``hf:ORG/NAME[:CONFIG]`` -- a Hugging Face dataset.

Ids are stable: ``<source>/<split>/<original id or index>`` for datasets,
``<file stem>/<index>`` for local files.

This module is the stage; the readers and row mappers behind it are its submodules:
:mod:`~sfstream.collect.files` (local files), :mod:`~sfstream.collect.generic` (rows mapped by
common field names), :mod:`~sfstream.collect.hf` (Hugging Face), the named datasets by domain
(:mod:`~sfstream.collect.math_datasets`, :mod:`~sfstream.collect.code_datasets`, described by
:mod:`~sfstream.collect.specs`), and what they share (:mod:`~sfstream.collect.rows`,
:mod:`~sfstream.collect.code_tests`).

Example:
    >>> from sfstream.collect import iter_problems
    >>> for p in iter_problems(["math500"], limit=2, seed=0, data_dir="data"):
    ...     print(p.id, p.answer)
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import random
from array import array
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from sfstream.collect import files, hf
from sfstream.collect.code_datasets import CODE_DATASETS
from sfstream.collect.decontaminate import DEFAULT_NGRAM, MODES, BenchmarkIndex, decontaminate
from sfstream.collect.generic import map_generic_row
from sfstream.collect.math_datasets import MATH_DATASETS
from sfstream.collect.rows import RowError, SkipRow, last_boxed
from sfstream.collect.specs import DatasetSpec, HfSource
from sfstream.errors import ConfigError, InputError, RecordError
from sfstream.ndjson import iter_objects
from sfstream.records import Problem, spec_error

__all__ = [
    "CHUNK_SIZE",
    "DATASETS",
    "DATA_DIR_ENV",
    "benchmark_index",
    "collect",
    "describe_sources",
    "iter_problems",
    "known_sources",
    "last_boxed",
]

log = logging.getLogger("sfstream.collect")

#: Environment variable naming the data directory when ``data_dir`` is not given.
DATA_DIR_ENV = "SFSTREAM_DATA_DIR"

#: Problems loaded per trip to the worker thread in :func:`collect`.
CHUNK_SIZE = 64

SAMPLE = "sample"
HF_PREFIX = "hf:"

#: Local file names that say nothing about the data; such files are named after their folder.
_GENERIC_STEMS = frozenset(
    {"train", "test", "validation", "valid", "val", "dev", "eval", "data", "problems"}
)

#: The named datasets by SOURCE name.
DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (*MATH_DATASETS, *CODE_DATASETS)}

# One entry of a source stream: where it came from (for messages) and the record or a dict to
# validate, or None for a row the loader skipped.
_Item = tuple[str, Problem | Mapping[str, Any] | None]


def known_sources() -> list[str]:
    """The SOURCE names ``collect`` knows (besides files and ``hf:`` datasets)."""
    return [SAMPLE, *DATASETS]


def describe_sources() -> dict[str, str]:
    """One line of description per known SOURCE name, for help texts."""
    out = {SAMPLE: "the small sample bundled with sfstream (math500, aime24, apps, livecodebench)"}
    for name, spec in DATASETS.items():
        splits = "/".join(spec.splits)
        out[name] = f"{spec.description} [splits: {splits}; default {spec.default_split}]"
    return out


def hf_dataset_for(name: str, config: str | None) -> tuple[DatasetSpec, HfSource] | None:
    """The named dataset whose hub copy is ``name`` (case-insensitive), if any."""
    for spec in DATASETS.values():
        copy = spec.hf
        if (
            copy is not None
            and copy.name.lower() == name.lower()
            and (config is None or copy.config is None or config == copy.config)
        ):
            return spec, copy
    return None


@dataclass(frozen=True)
class _Source:
    label: str
    items: Callable[[], Iterator[_Item]]


# --------------------------------------------------------------------------------------------
# source resolution
# --------------------------------------------------------------------------------------------
def _data_dir(data_dir: str | Path | None) -> Path | None:
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser()
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env).expanduser() if env else None


def _unknown(source: str) -> ConfigError:
    return ConfigError(
        f"unknown source {source!r}: expected one of {', '.join(known_sources())}, "
        f"a .jsonl/.json/.parquet file, or hf:ORG/NAME[:CONFIG]"
    )


def _resolve(source: str, split: str | None, data_dir: Path | None) -> _Source:
    if not isinstance(source, str) or not source.strip():
        raise ConfigError(f"empty or invalid source {source!r}")
    source = source.strip()
    name = source.lower()
    if name == SAMPLE:
        return _Source(SAMPLE, lambda: _sample_items(split))
    if name in DATASETS:
        spec = DATASETS[name]
        chosen = split or spec.default_split
        if chosen not in spec.splits:
            raise ConfigError(
                f"dataset '{spec.name}' has no '{chosen}' split (it has: {', '.join(spec.splits)})"
            )
        return _Source(spec.name, lambda: _dataset_items(spec, chosen, data_dir))
    if source.startswith(HF_PREFIX):
        return _resolve_hf(source, split)
    path = Path(source).expanduser()
    if files.file_kind(path) is not None:
        if not path.is_file():
            raise ConfigError(f"source file not found: {source}")
        return _Source(source, lambda: _file_items(path))
    if path.is_file():
        raise ConfigError(
            f"unsupported file type: {source} (expected .jsonl, .ndjson, .json or .parquet)"
        )
    raise _unknown(source)


def _resolve_hf(source: str, split: str | None) -> _Source:
    spec_text = source[len(HF_PREFIX) :]
    name, _, config = spec_text.partition(":")
    parts = name.split("/")
    if len(parts) != 2 or not all(parts):
        raise ConfigError(f"bad Hugging Face source {source!r}: expected hf:ORG/NAME[:CONFIG]")
    return _Source(source, lambda: _hf_items(name, config or None, split))


# --------------------------------------------------------------------------------------------
# item streams (run in the worker thread)
# --------------------------------------------------------------------------------------------
def _sample_items(split: str | None) -> Iterator[_Item]:
    ref = resources.files("sfstream") / "data" / "problems.jsonl"
    if not ref.is_file():
        raise ConfigError(
            "the bundled sample is missing: sfstream/data/problems.jsonl "
            "is not in the installed package"
        )
    with ref.open("rb") as fh:
        try:
            for lineno, row in iter_objects(fh, source="bundled sample"):
                if split is not None:
                    parts = str(row.get("id", "")).split("/")
                    if len(parts) < 3 or parts[1] != split:
                        continue
                yield f"bundled sample: line {lineno}", row
        except InputError as exc:
            raise ConfigError(str(exc)) from None


def _dataset_items(spec: DatasetSpec, split: str, data_dir: Path | None) -> Iterator[_Item]:
    if data_dir is not None and not data_dir.is_dir():
        raise ConfigError(f"data directory not found: {data_dir}")
    rows = spec.local(data_dir, split) if data_dir is not None else None
    if rows is not None:
        for row in rows:
            yield f"dataset '{spec.name}'", row
        return
    where = f"in {data_dir}" if data_dir is not None else "(no data directory given)"
    if spec.hf is None:
        raise ConfigError(
            f"dataset '{spec.name}' ({split}) not found {where} (set --data-dir or {DATA_DIR_ENV})"
        )
    if not hf.have_datasets():
        raise ConfigError(
            f"dataset '{spec.name}' ({split}) not found {where} "
            f"(set --data-dir or {DATA_DIR_ENV}, or install sfstream[hf])"
        )
    log.info(
        "dataset '%s' not found %s; loading %s from Hugging Face", spec.name, where, spec.hf.name
    )
    yield from _hf_mapped(spec.name, spec.hf, split)


def _hf_mapped(label: str, source: HfSource, split: str) -> Iterator[_Item]:
    hub_split = source.splits.get(split, split)
    _, rows = hf.load_hf_rows(source.name, source.config, hub_split)
    for index, row in enumerate(rows):
        where = f"{label} (Hugging Face {source.name}) row {index + 1}"
        try:
            yield where, source.mapper(row, index, split)
        except SkipRow as exc:
            log.warning("%s: skipped: %s", where, exc)
            yield where, None
        except (RowError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: {exc}") from None


def _hf_items(name: str, config: str | None, split: str | None) -> Iterator[_Item]:
    known = hf_dataset_for(name, config)
    if known is not None:
        spec, copy = known
        chosen = split or spec.default_split
        yield from _hf_mapped(spec.name, copy, chosen)
        return
    loaded_split, rows = hf.load_hf_rows(name, config, split)
    source = name.split("/")[1]
    if config and config not in ("default", "main"):
        source = f"{source}-{config}"
    for index, row in enumerate(rows):
        where = f"hf:{name} row {index + 1}"
        try:
            yield (
                where,
                map_generic_row(row, source=source, ident=f"{source}/{loaded_split}/{index}"),
            )
        except RowError as exc:
            raise ConfigError(f"{where}: {exc}") from None


def _file_names(path: Path) -> tuple[str, str]:
    """(source, id prefix) for a local file: its stem, or folder/stem for generic stems."""
    stem = path.name
    for suffix in (".gz", ".jsonl", ".ndjson", ".json", ".parquet"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    parent = path.resolve().parent.name
    if stem.lower() in _GENERIC_STEMS and parent:
        return parent, f"{parent}/{stem}"
    return stem, stem


def _file_items(path: Path) -> Iterator[_Item]:
    source, prefix = _file_names(path)
    for index, (loc, row) in enumerate(files.iter_file_rows(path)):
        where = f"{path}: {loc}"
        try:
            yield where, map_generic_row(row, source=source, ident=f"{prefix}/{index}")
        except RowError as exc:
            raise ConfigError(f"{where}: cannot map to a problem: {exc}") from None


# --------------------------------------------------------------------------------------------
# the stage
# --------------------------------------------------------------------------------------------
def _problems(src: _Source) -> Iterator[Problem]:
    skipped = 0
    for where, item in src.items():
        if item is None:
            skipped += 1
            continue
        if isinstance(item, Problem):
            yield item
            continue
        try:
            yield Problem.from_dict(item)
        except RecordError as exc:
            ident = item.get("id") if isinstance(item, Mapping) else None
            what = f" ({ident})" if isinstance(ident, str) and ident not in where else ""
            raise ConfigError(f"{where}{what}: not a valid problem: {exc}") from None
    if skipped:
        log.info(
            "%s: skipped %d unusable problem(s) (no gold answer or no tests)", src.label, skipped
        )


def _select(problems: Iterable[Problem], limit: int | None, seed: int | None) -> Iterator[Problem]:
    if seed is not None:
        pool = list(problems)
        random.Random(seed).shuffle(pool)
        yield from pool if limit is None else pool[:limit]
    elif limit is not None:
        yield from itertools.islice(problems, limit)
    else:
        yield from problems


class _SeenIds:
    """The problem ids seen so far, as 64-bit hashes in one open-addressing table: 16 bytes
    per problem or less (a set of the id strings takes about 100), so collecting a million
    problems holds 16 MB for this, not 100 MB. Two distinct ids share a hash with a chance of
    about n**2 / 2**65 (3e-8 for a million)."""

    def __init__(self) -> None:
        self.count = 0
        self.table = array("Q", bytes(8 * 1024))

    @staticmethod
    def _key(ident: str) -> int:
        digest = hashlib.blake2b(ident.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        return int.from_bytes(digest, "little") or 1  # 0 marks an empty slot

    def add(self, ident: str) -> bool:
        """Adds ``ident``; False when it was already there."""
        key = self._key(ident)
        table = self.table
        mask = len(table) - 1
        slot = key & mask
        while table[slot]:
            if table[slot] == key:
                return False
            slot = (slot + 1) & mask
        table[slot] = key
        self.count += 1
        if 2 * self.count > len(table):
            self._grow()
        return True

    def _grow(self) -> None:
        old = self.table
        table = self.table = array("Q", bytes(16 * len(old)))
        mask = len(table) - 1
        for key in old:
            if key:
                slot = key & mask
                while table[slot]:
                    slot = (slot + 1) & mask
                table[slot] = key


def _generate(resolved: list[_Source], limit: int | None, seed: int | None) -> Iterator[Problem]:
    seen = _SeenIds()
    for src in resolved:
        dupes = 0

        invalid = 0

        def fresh(stream: Iterable[Problem]) -> Iterator[Problem]:
            nonlocal dupes
            for p in stream:
                if not seen.add(p.id):
                    dupes += 1
                    continue
                yield p

        for problem in _select(fresh(_problems(src)), limit, seed):
            if problem.domain == "code":
                error = spec_error(problem.tests)
                if error is not None:
                    invalid += 1
                    if invalid <= 3:
                        log.warning("%s: %s: malformed tests: %s", src.label, problem.id, error)
            yield problem
        if dupes:
            log.warning(
                "%s: dropped %d problem(s) whose id was already collected", src.label, dupes
            )
        if invalid:
            log.warning(
                "%s: %d problem(s) with malformed tests; their samples will be judged "
                "invalid_tests",
                src.label,
                invalid,
            )


def iter_problems(
    sources: Sequence[str] | str,
    *,
    split: str | None = None,
    limit: int | None = None,
    seed: int | None = None,
    data_dir: str | Path | None = None,
    decontaminate: str | None = None,
    decontaminate_ngram: int = DEFAULT_NGRAM,
) -> Iterator[Problem]:
    """Loads problems from one or more sources, synchronously.

    Source names are checked right away; files are read lazily as the iterator is consumed.

    Args:
        sources: SOURCE strings (see the module docstring); a single string is one source.
        split: ``train`` or ``test`` (``validation``/``prompt`` for mbpp). Named datasets
            default to the split the data has (test for most, train for ``apps`` and
            ``aime``); the sample keeps only ids of that split; ``hf:`` passes it to
            ``load_dataset``; local files ignore it.
        limit: Keep at most this many problems per source.
        seed: Shuffle each source's problems deterministically with ``random.Random(seed)``
            before ``limit`` applies; without a seed the first problems in file order are kept.
        data_dir: Directory laid out like the shared data; default ``$SFSTREAM_DATA_DIR``.
        decontaminate: ``flag`` or ``drop`` the problems sharing a word n-gram with an
            evaluation benchmark (see :mod:`~sfstream.collect.decontaminate`); the benchmarks
            are read from ``data_dir`` when the first problem is requested. None: no check.
        decontaminate_ngram: The n of the n-grams.

    Returns:
        An iterator of validated :class:`~sfstream.records.Problem` records. A problem whose
        id was already produced (the same source twice, or the sample next to its dataset) is
        dropped with a logged warning.

    Raises:
        ConfigError: an unknown source, a bad option, a missing file or dataset, or a row that
            cannot be mapped (naming the file and row). Errors about file contents are raised
            while iterating.
    """
    if isinstance(sources, str):
        sources = [sources]
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ConfigError(f"limit must be a non-negative integer, got {limit!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ConfigError(f"seed must be an integer, got {seed!r}")
    if split is not None and (not isinstance(split, str) or not split.strip()):
        raise ConfigError(f"split must be a non-empty string, got {split!r}")
    if decontaminate is not None and decontaminate not in MODES:
        raise ConfigError(f"decontaminate must be one of {', '.join(MODES)}, got {decontaminate!r}")
    if (
        isinstance(decontaminate_ngram, bool)
        or not isinstance(decontaminate_ngram, int)
        or decontaminate_ngram < 1
    ):
        raise ConfigError(
            f"decontaminate_ngram must be a positive integer, got {decontaminate_ngram!r}"
        )
    if decontaminate is None and decontaminate_ngram != DEFAULT_NGRAM:
        raise ConfigError(
            "decontaminate_ngram is set but decontaminate is not: "
            "add --decontaminate flag or --decontaminate drop"
        )
    if not sources:
        raise ConfigError(
            f"no source given: expected one or more of {', '.join(known_sources())}"
            ", a .jsonl/.json/.parquet file, or hf:ORG/NAME[:CONFIG]"
        )
    directory = _data_dir(data_dir)
    resolved: list[_Source] = []
    labels: set[str] = set()
    for source in sources:
        src = _resolve(source, split, directory)
        if src.label in labels:
            continue
        labels.add(src.label)
        resolved.append(src)
    problems = _generate(resolved, limit, seed)
    if decontaminate is None:
        return problems
    return _decontaminated(problems, directory, decontaminate, decontaminate_ngram)


def benchmark_index(data_dir: str | Path | None = None, n: int = DEFAULT_NGRAM) -> BenchmarkIndex:
    """The n-gram index of the evaluation benchmarks ``--decontaminate`` checks against: read
    like the named datasets from ``data_dir`` (else ``$SFSTREAM_DATA_DIR``); without either,
    the index shipped in the package for the default n, else their Hugging Face copies."""
    directory = _data_dir(data_dir)
    if directory is None and n == DEFAULT_NGRAM:
        return BenchmarkIndex.shipped()

    def read(name: str, split: str) -> Iterator[Problem]:
        return iter_problems([name], split=split, data_dir=directory)

    return BenchmarkIndex.load(read, n)


def _decontaminated(
    problems: Iterator[Problem], directory: Path | None, mode: Any, n: int
) -> Iterator[Problem]:
    index = benchmark_index(directory, n)
    yield from decontaminate(problems, index, mode)


def _next_chunk(it: Iterator[Problem], size: int) -> list[Problem]:
    return list(itertools.islice(it, size))


async def collect(
    sources: Sequence[str] | str,
    *,
    split: str | None = None,
    limit: int | None = None,
    seed: int | None = None,
    data_dir: str | Path | None = None,
    decontaminate: str | None = None,
    decontaminate_ngram: int = DEFAULT_NGRAM,
) -> AsyncIterator[Problem]:
    """The collect stage as an async generator.

    Reading and mapping run in a worker thread, :data:`CHUNK_SIZE` problems at a time, so the
    event loop is never blocked by file or network I/O. Arguments are those of
    :func:`iter_problems`. Iterate to the end or close the generator (e.g. with
    ``contextlib.aclosing``) so the files it holds are released.

    Yields:
        Validated :class:`~sfstream.records.Problem` records.

    Raises:
        ConfigError: as :func:`iter_problems`.
    """
    it = iter_problems(
        sources,
        split=split,
        limit=limit,
        seed=seed,
        data_dir=data_dir,
        decontaminate=decontaminate,
        decontaminate_ngram=decontaminate_ngram,
    )
    try:
        while True:
            chunk = await anyio.to_thread.run_sync(_next_chunk, it, CHUNK_SIZE)
            if not chunk:
                return
            for problem in chunk:
                yield problem
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()
