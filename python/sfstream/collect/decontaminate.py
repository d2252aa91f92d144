"""Decontamination: problems that share word n-grams with an evaluation benchmark.

The rule (the one open-r1 and others apply before training): a problem is *contaminated* by
a benchmark problem when their statements share at least one word n-gram (n = 13 by
default). Words come from a normalisation done in the Rust core
(:func:`sfstream._core.ngram_words`): the layout-only LaTeX commands ``\\left``, ``\\right``,
``\\displaystyle``, ``\\textstyle`` are removed and ``\\dfrac``/``\\tfrac`` read as
``\\frac``; the text is lower-cased; every character that is not alphanumeric separates
words, so punctuation and LaTeX markup fold away (``\\frac{1}{2}`` gives ``frac 1 2``) and
whitespace collapses. A statement with fewer than n words has no n-grams and is never
flagged.

The benchmarks (:data:`BENCHMARKS`) are read with the collect stage's own loaders, from the
data directory when one is given, else from their Hugging Face copies. A benchmark that cannot
be loaded is skipped with a warning; when none can be, decontamination fails. Without a data
directory and with the default n, the index shipped in the package (:data:`SHIPPED`: the
13-gram hashes and ids of the benchmark problems, no text; built by
``scripts/build_benchmark_ngrams.py``, attribution in ``sfstream/data/BENCHMARK_NGRAMS.md``) is
used instead.

A problem is never compared with the benchmark it came from: hits in the benchmark whose
SOURCE name equals the problem's ``source`` are ignored (a ``math500`` problem is not
contaminated by MATH500, but a ``math`` test problem that is also in MATH500 is).

A flagged problem gets ``meta.contamination``::

    {"benchmark": "math500", "id": "math500/test/...", "n": 13,
     "shared": 40, "share": 0.93}

for the benchmark problem sharing the most n-grams with it: ``shared`` is the number of
distinct n-grams they share and ``share`` that number over the problem's distinct n-grams.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any, Literal

from sfstream._core import NgramIndex, ngram_hashes
from sfstream.errors import ConfigError
from sfstream.records import Problem

__all__ = [
    "BENCHMARKS",
    "DEFAULT_NGRAM",
    "MODES",
    "SHIPPED",
    "BenchmarkIndex",
    "decontaminate",
    "shipped_index_bytes",
]

log = logging.getLogger("sfstream.collect")

#: The default n-gram size.
DEFAULT_NGRAM = 13

#: What ``--decontaminate`` accepts.
MODES = ("flag", "drop")

Mode = Literal["flag", "drop"]

#: The evaluation benchmarks checked: (SOURCE name, split).
BENCHMARKS: tuple[tuple[str, str], ...] = (
    ("math500", "test"),
    ("aime24", "test"),
    ("aime25", "test"),
    ("amc23", "test"),
    ("gsm8k", "test"),
    ("humaneval", "test"),
    ("mbpp", "test"),
    ("livecodebench", "test"),
)

#: The precomputed index in the package data (13-grams).
SHIPPED = "benchmark_ngrams.json.gz"

#: Problems checked per call into the core.
BATCH = 256


@dataclass(frozen=True)
class BenchmarkIndex:
    """The n-grams of the benchmark problems, and which benchmark problem each document is.

    Attributes:
        n: The n-gram size.
        index: The core index; document ``i`` is ``docs[i]``.
        docs: ``(benchmark SOURCE name, problem id)`` per document.
    """

    n: int
    index: NgramIndex
    docs: tuple[tuple[str, str], ...]

    @classmethod
    def from_problems(cls, problems: Iterable[Problem], n: int = DEFAULT_NGRAM) -> BenchmarkIndex:
        """An index of the given benchmark problems (their ``source`` names the benchmark)."""
        index = NgramIndex(n)
        docs: list[tuple[str, str]] = []
        texts: list[str] = []
        for p in problems:
            docs.append((p.source, p.id))
            texts.append(p.problem)
        index.add(texts)
        return cls(n, index, tuple(docs))

    @classmethod
    def shipped(cls) -> BenchmarkIndex:
        """The index shipped in the package (n = 13).

        Raises:
            ConfigError: the file is missing from the installed package.
        """
        ref = resources.files("sfstream") / "data" / SHIPPED
        if not ref.is_file():
            raise ConfigError(f"the benchmark index is missing: sfstream/data/{SHIPPED}")
        data = json.loads(gzip.decompress(ref.read_bytes()))
        index = NgramIndex(int(data["n"]))
        docs = tuple((str(bench), str(ident)) for bench, ident, _ in data["docs"])
        index.add_hashes([[int(h, 16) for h in hashes] for _, _, hashes in data["docs"]])
        return cls(int(data["n"]), index, docs)

    @classmethod
    def load(
        cls,
        read: Callable[[str, str], Iterable[Problem]],
        n: int = DEFAULT_NGRAM,
        benchmarks: Sequence[tuple[str, str]] = BENCHMARKS,
    ) -> BenchmarkIndex:
        """Reads the benchmarks with ``read(SOURCE name, split)`` and indexes them; a
        benchmark whose reading raises ``ConfigError`` is skipped with a warning.

        Raises:
            ConfigError: ``n`` < 1, or no benchmark could be read.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"decontaminate_ngram must be a positive integer, got {n!r}")
        problems: list[Problem] = []
        missing: list[str] = []
        for name, split in benchmarks:
            try:
                loaded = list(read(name, split))
            except ConfigError as exc:
                log.warning("decontaminate: benchmark %s not checked: %s", name, exc)
                missing.append(name)
                continue
            # The benchmark is named by the SOURCE it was read as, whatever the rows say.
            problems.extend(replace(p, source=name) for p in loaded)
        if len(missing) == len(benchmarks):
            raise ConfigError(
                "decontaminate: no benchmark could be loaded (set --data-dir or "
                "$SFSTREAM_DATA_DIR to a directory holding them)"
            )
        built = cls.from_problems(problems, n)
        log.info(
            "decontaminate: %d benchmark problem(s), %d distinct %d-grams",
            len(built.docs),
            built.index.ngram_count,
            n,
        )
        return built

    def check(self, problems: Sequence[Problem]) -> list[dict[str, Any] | None]:
        """The ``meta.contamination`` object of each problem, or None when it is clean."""
        results = self.index.query([p.problem for p in problems])
        out: list[dict[str, Any] | None] = []
        for p, (total, hits) in zip(problems, results, strict=True):
            found: dict[str, Any] | None = None
            for doc, shared in hits:
                bench, ident = self.docs[doc]
                if bench == p.source:
                    continue
                found = {
                    "benchmark": bench,
                    "id": ident,
                    "n": self.n,
                    "shared": shared,
                    "share": round(shared / total, 4) if total else 0.0,
                }
                break
            out.append(found)
        return out


def shipped_index_bytes(problems: Iterable[Problem], n: int = DEFAULT_NGRAM) -> bytes:
    """The file :meth:`BenchmarkIndex.shipped` reads, for these benchmark problems (their
    ``source`` names the benchmark): gzipped JSON of the n-gram hashes (hex) of each problem,
    byte-for-byte reproducible."""
    docs = [[p.source, p.id, [f"{h:016x}" for h in ngram_hashes(p.problem, n)]] for p in problems]
    text = json.dumps({"n": n, "docs": docs}, separators=(",", ":"), sort_keys=True)
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def decontaminate(
    problems: Iterable[Problem], index: BenchmarkIndex, mode: Mode
) -> Iterator[Problem]:
    """Flags (``meta.contamination``) or drops the contaminated problems of a stream.

    Dropped problems are counted per benchmark and logged when the stream ends.
    """
    if mode not in MODES:
        raise ConfigError(f"decontaminate must be one of {', '.join(MODES)}, got {mode!r}")
    counts: Counter[str] = Counter()
    it = iter(problems)
    try:
        while True:
            batch: list[Problem] = []
            for p in it:
                batch.append(p)
                if len(batch) == BATCH:
                    break
            if not batch:
                break
            for p, found in zip(batch, index.check(batch), strict=True):
                if found is None:
                    yield p
                    continue
                counts[found["benchmark"]] += 1
                if mode == "flag":
                    yield replace(p, meta={**p.meta, "contamination": found})
    finally:
        if counts:
            what = "dropped" if mode == "drop" else "flagged"
            per = ", ".join(f"{b} {c}" for b, c in sorted(counts.items()))
            log.warning(
                "decontaminate: %s %d contaminated problem(s) (%s)", what, counts.total(), per
            )
