"""Selection of training examples: keep policies, the pass-rate band, duplicate removal and
the domain or source mix (the format stage's options; docs/records.md gives each rule).

The steps run in this order, each on what the one before kept:

1. **Eligible samples.** A sample is a candidate when its verdict is correct and it passes the
   format stage's quality thresholds.
2. **Pass-rate band** (``pass_rate=(LO, HI)``): a problem is kept when the share of its
   samples whose answer checked out (verdict ``correct``, or ``low_quality``: right but below a
   quality threshold) lies in ``[LO, HI]``. The samples of one problem are a *group*: its size
   is the problem's own ``generation.n`` when it has one, else ``samples_per_problem`` (which
   ``sfstream run`` takes from ``generate.n``). A group is decided as soon as that many
   distinct sample indices have arrived, so only open groups are held in memory (their counts
   and their candidates). Without a known size, and for groups still short at the end of the
   input (a truncated file, a shard), the group is decided at the end over the samples that
   arrived; those are counted as ``pass_rate_incomplete``.
3. **Keep policy** per problem: ``all``, or the best ``max_per_problem`` (default 1) by
   ``first`` (lowest sample index), ``shortest`` / ``longest`` (characters of completion and
   reasoning; ties by sample index) or ``random`` (the lowest BLAKE2b hash of the seed, the
   problem id and the sample index, so the choice depends neither on arrival order nor on the
   other samples). A policy other than ``all`` decides a problem when its group is complete
   (or at the end of the input).
4. **Duplicates** of problems, then of completions (``dedup_problems`` and
   ``dedup_completions``: ``exact`` or ``near``). Kept examples are visited in the order of
   (problem id, sample index), so the survivor of a set of duplicates is the first in that
   order. ``exact``: the same tokens (normalised words and symbols, without markup and
   sentence punctuation: ``sfstream._core.dedup_tokens``, compared by ``text_keys``); ``near``
   adds MinHash over token shingles with an LSH index of bands (``sfstream._core.MinHashIndex``).
   A duplicate problem removes every example of it.
5. **Mix** (``mix`` by ``mix_by`` = ``domain`` or ``source``): the largest output whose
   counts per group are the apportionment of its total by the ratios (largest remainders);
   within a group the examples with the lowest BLAKE2b hash of the seed and the example id
   are kept. Groups the mix does not name are dropped.

Steps 4 and 5 need all kept examples: they are written to a spool file (a temporary file in
``spool_dir``) and only their ids, offsets and group are held in memory; the selected
examples are emitted at the end of the input, in (problem id, sample index) order. Without
them, the stage streams (``keep="all"``) or emits each problem when its group is decided.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import IO, TYPE_CHECKING, Any, cast

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from sfstream import _core, _exactjson
from sfstream.errors import ConfigError
from sfstream.records import Example, Sample

if TYPE_CHECKING:
    from sfstream.format import FormatConfig
    from sfstream.pipeline import StageFn
    from sfstream.progress import StageProgress

__all__ = [
    "DEDUP_MODES",
    "KEEPS",
    "MIX_BY",
    "mix_targets",
    "needs_selection",
    "parse_mix",
    "parse_pass_rate",
    "random_rank",
    "selection_stage",
]

log = logging.getLogger("sfstream")

KEEPS: tuple[str, ...] = ("all", "first", "shortest", "longest", "random")
DEDUP_MODES: tuple[str, ...] = ("exact", "near")
MIX_BY: tuple[str, ...] = ("domain", "source")

#: Kept examples whose texts are hashed in one call of the core.
_CHUNK = 512


def parse_pass_rate(value: Any) -> tuple[float, float]:
    """``"LO:HI"`` (or a pair of numbers) as ``(LO, HI)`` with ``0 <= LO <= HI <= 1``.

    Raises:
        ConfigError: anything else.
    """
    parts: Any = value.split(":") if isinstance(value, str) else value
    try:
        lo, hi = (float(p) for p in parts)
    except (TypeError, ValueError):
        raise ConfigError(
            f"format: pass_rate must be LO:HI (e.g. 0.1:0.9), got {value!r}"
        ) from None
    if not 0.0 <= lo <= hi <= 1.0:
        raise ConfigError(f"format: pass_rate needs 0 <= LO <= HI <= 1, got {value!r}")
    return (lo, hi)


def parse_mix(value: Any) -> tuple[tuple[str, float], ...]:
    """``"math=0.6,code=0.4"`` (or a mapping of names to ratios) as ``((name, ratio), ...)``.

    Ratios are positive numbers; they need not sum to 1 (they are shares of their sum).

    Raises:
        ConfigError: a malformed item, a repeated name or a ratio that is not positive.
    """
    items: list[tuple[str, Any]]
    if isinstance(value, str):
        items = []
        for part in value.split(","):
            name, sep, ratio = part.partition("=")
            if not sep:
                raise ConfigError(f"format: mix item {part!r} is not NAME=RATIO")
            items.append((name.strip(), ratio.strip()))
    elif isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, list | tuple):
        items = [(x[0], x[1]) for x in value]
    else:
        raise ConfigError(f"format: mix must be NAME=RATIO,... or a table, got {value!r}")
    out: list[tuple[str, float]] = []
    for name, ratio in items:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"format: mix names must be non-empty strings, got {name!r}")
        try:
            number = float(ratio)
        except (TypeError, ValueError):
            number = math.nan
        if isinstance(ratio, bool) or not (math.isfinite(number) and number > 0):
            raise ConfigError(f"format: mix ratio of {name!r} must be a number > 0")
        if any(n == name for n, _ in out):
            raise ConfigError(f"format: mix names {name!r} twice")
        out.append((name, number))
    if not out:
        raise ConfigError("format: mix is empty")
    return tuple(out)


def mix_targets(available: Mapping[str, int], ratios: Mapping[str, float]) -> dict[str, int]:
    """How many examples of each group a mix keeps: for the largest total T whose
    apportionment fits within ``available``, each group gets ``T * share`` rounded down, and
    the rest of T goes one each to the largest fractional parts (ties by group name). A named
    group with no example makes every count 0."""
    share = {g: Fraction(repr(float(r))) for g, r in ratios.items()}
    whole = sum(share.values())
    share = {g: s / whole for g, s in share.items()}

    def apportion(total: int) -> dict[str, int]:
        exact = {g: total * s for g, s in share.items()}
        counts = {g: math.floor(x) for g, x in exact.items()}
        rest = total - sum(counts.values())
        for g in sorted(share, key=lambda g: (-(exact[g] - counts[g]), g))[:rest]:
            counts[g] += 1
        return counts

    def fits(counts: Mapping[str, int]) -> bool:
        return all(n <= available.get(g, 0) for g, n in counts.items())

    if any(available.get(g, 0) == 0 for g in share):
        return dict.fromkeys(share, 0)  # a named group with nothing: no mix can honour it
    low = min(math.floor(available.get(g, 0) / s) for g, s in share.items())
    high = min(math.floor((available.get(g, 0) + 1) / s) for g, s in share.items())
    for total in range(high, low, -1):
        counts = apportion(total)
        if fits(counts):
            return counts
    return apportion(low)


def random_rank(seed: int, *parts: object) -> int:
    """A 64-bit rank from BLAKE2b of the seed and ``parts`` (the same on every machine)."""
    text = "\0".join(str(p) for p in (seed, *parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def needs_selection(config: FormatConfig) -> bool:
    """Whether ``config`` asks for more than streaming every eligible sample."""
    return bool(
        config.keep != "all"
        or config.pass_rate
        or config.dedup_problems
        or config.dedup_completions
        or config.mix
    )


def band(config: FormatConfig) -> tuple[float, float]:
    """The pass-rate band of ``config`` (checked and normalised by ``FormatConfig``)."""
    return cast(tuple[float, float], config.pass_rate)


def ratios_of(config: FormatConfig) -> tuple[tuple[str, float], ...]:
    """The mix of ``config`` as ``((name, ratio), ...)`` (normalised by ``FormatConfig``)."""
    return cast(tuple[tuple[str, float], ...], config.mix)


def _solved(sample: Sample) -> bool:
    v = sample.verdict
    return v is not None and (v.correct or v.status == "low_quality")


def _length(sample: Sample) -> int:
    return len(sample.completion) + len(sample.reasoning or "")


def _completion_text(sample: Sample) -> str:
    return f"{sample.reasoning}\n{sample.completion}" if sample.reasoning else sample.completion


@dataclass
class _Group:
    indices: set[int] = field(default_factory=set)
    solved: int = 0
    size: int | None = None
    candidates: list[tuple[tuple[int, ...], Sample]] = field(default_factory=list)


class _Groups:
    """The open groups (problems) of steps 2 and 3."""

    def __init__(self, config: FormatConfig, counts: dict[str, Any]) -> None:
        self.config = config
        self.counts = counts
        self.limit = None if config.keep == "all" else (config.max_per_problem or 1)
        self.open: dict[str, _Group] = {}

    def key(self, sample: Sample) -> tuple[int, ...]:
        keep, index = self.config.keep, sample.sample_index
        if keep == "shortest":
            return (_length(sample), index)
        if keep == "longest":
            return (-_length(sample), index)
        if keep == "random":
            return (random_rank(self.config.seed, sample.id, index), index)
        return (index,)

    def size_of(self, sample: Sample) -> int | None:
        generation = sample.extra.get("generation")
        if isinstance(generation, dict):
            n = generation.get("n")
            if isinstance(n, int) and not isinstance(n, bool) and n > 0:
                return n
        return self.config.samples_per_problem

    def add(self, sample: Sample, eligible: bool) -> list[Sample]:
        """Adds a sample; returns the chosen samples of its problem once it is decided."""
        group = self.open.get(sample.id)
        if group is None:
            group = self.open[sample.id] = _Group(size=self.size_of(sample))
        if sample.sample_index in group.indices:
            return []  # the same sample again (a resumed run): counted once
        group.indices.add(sample.sample_index)
        group.solved += _solved(sample)
        if eligible:
            group.candidates.append((self.key(sample), sample))
            if self.limit is not None and len(group.candidates) > 2 * self.limit + 8:
                group.candidates.sort(key=lambda c: c[0])
                self.counts["keep"] += len(group.candidates) - self.limit
                del group.candidates[self.limit :]
        if group.size is not None and len(group.indices) >= group.size:
            del self.open[sample.id]
            return self.decide(group)
        return []

    def finish(self) -> list[Sample]:
        """Decides the groups still open at the end of the input."""
        out: list[Sample] = []
        for group in self.open.values():
            if self.config.pass_rate and group.size is not None:
                self.counts["pass_rate_incomplete"] += 1
            out += self.decide(group)
        self.open.clear()
        return out

    def decide(self, group: _Group) -> list[Sample]:
        if self.config.pass_rate:
            lo, hi = band(self.config)
            rate = group.solved / len(group.indices)
            if not lo <= rate <= hi:
                self.counts["pass_rate_problems"] += 1
                self.counts["pass_rate_samples"] += len(group.candidates)
                return []
        chosen = sorted(group.candidates, key=lambda c: c[0])
        if self.limit is not None:
            self.counts["keep"] += max(0, len(chosen) - self.limit)
            chosen = chosen[: self.limit]
        # Emitted in sample index order.
        return sorted((s for _, s in chosen), key=lambda s: s.sample_index)


@dataclass(slots=True)
class _Entry:
    problem_id: str
    index: int
    group: str
    offset: int
    size: int


class _Spool:
    """Kept examples on disk, with their problem statement and completion text (steps 4-5)."""

    def __init__(self, directory: str | None) -> None:
        self.directory = directory
        self.file: IO[bytes] | None = None
        self.entries: list[_Entry] = []
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.end = 0

    def add(self, example: Example, sample: Sample, group: str) -> None:
        line = _exactjson.dumps(
            {"e": example.to_dict(), "p": sample.problem, "c": _completion_text(sample)},
            newline=True,
        )
        self.entries.append(_Entry(sample.id, sample.sample_index, group, self.end, len(line)))
        self.end += len(line)
        self.pending.append(line)
        self.pending_bytes += len(line)

    def flush(self) -> None:
        if self.file is None:
            self.file = tempfile.TemporaryFile(prefix="sfstream-select-", dir=self.directory)
        self.file.write(b"".join(self.pending))
        self.file.flush()
        self.pending.clear()
        self.pending_bytes = 0

    def read(self, entry: _Entry) -> dict[str, Any]:
        assert self.file is not None
        value: dict[str, Any] = _exactjson.loads(
            os.pread(self.file.fileno(), entry.size, entry.offset)
        )
        return value

    def read_rows(self, entries: list[_Entry]) -> list[dict[str, Any]]:
        return [self.read(e)["e"] for e in entries]

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def _dedup(
    texts: list[str],
    mode: str,
    seen: set[int],
    index: _core.MinHashIndex | None,
) -> list[str | None]:
    """Per text, in order: None (kept), ``"exact"`` (its key is that of a text before it
    that was not itself an exact duplicate) or ``"near"`` (a near duplicate of a text kept
    before it), over this call and the earlier ones with the same ``seen`` and ``index``."""
    out: list[str | None] = []
    fresh: list[int] = []
    for i, key in enumerate(_core.text_keys(texts)):
        if key in seen:
            out.append("exact")
        else:
            seen.add(key)
            out.append(None)
            fresh.append(i)
    if mode == "near" and index is not None and fresh:
        for i, match in zip(fresh, index.insert([texts[i] for i in fresh]), strict=True):
            if match is not None:
                out[i] = "near"
    return out


def _near_index(config: FormatConfig) -> _core.MinHashIndex:
    return _core.MinHashIndex(
        shingle=config.minhash_shingle,
        num_perm=config.minhash_perms,
        bands=config.minhash_bands,
        threshold=config.near_threshold,
        seed=0,
    )


def select_spooled(spool: _Spool, config: FormatConfig, counts: dict[str, Any]) -> list[_Entry]:
    """Steps 4 and 5 over the spooled examples; the survivors in output order (blocking)."""
    entries = sorted(spool.entries, key=lambda e: (e.problem_id, e.index))
    if config.dedup_problems:
        firsts: list[_Entry] = []
        for e in entries:
            if not firsts or firsts[-1].problem_id != e.problem_id:
                firsts.append(e)
        seen: set[int] = set()
        index = _near_index(config) if config.dedup_problems == "near" else None
        removed: set[str] = set()
        for start in range(0, len(firsts), _CHUNK):
            chunk = firsts[start : start + _CHUNK]
            texts = [spool.read(e)["p"] for e in chunk]
            for e, kind in zip(
                chunk, _dedup(texts, config.dedup_problems, seen, index), strict=True
            ):
                if kind is not None:
                    counts[f"duplicate_problems_{kind}"] += 1
                    removed.add(e.problem_id)
        before = len(entries)
        entries = [e for e in entries if e.problem_id not in removed]
        counts["duplicate_problem_examples"] += before - len(entries)
    if config.dedup_completions:
        seen = set()
        index = _near_index(config) if config.dedup_completions == "near" else None
        kept: list[_Entry] = []
        for start in range(0, len(entries), _CHUNK):
            chunk = entries[start : start + _CHUNK]
            texts = [spool.read(e)["c"] for e in chunk]
            for e, kind in zip(
                chunk, _dedup(texts, config.dedup_completions, seen, index), strict=True
            ):
                if kind is None:
                    kept.append(e)
                else:
                    counts[f"duplicate_completions_{kind}"] += 1
        entries = kept
    if config.mix:
        ratios = dict(ratios_of(config))
        available: dict[str, int] = {}
        for e in entries:
            available[e.group] = available.get(e.group, 0) + 1
        targets = mix_targets(available, ratios)
        if not any(targets.values()) and entries:
            log.warning(
                "format: the mix %s cannot be met (available: %s): no example is kept",
                ",".join(f"{g}={r}" for g, r in ratios.items()),
                available,
            )
        ranked = sorted(
            entries, key=lambda e: (random_rank(config.seed, f"{e.problem_id}#{e.index}"), e.index)
        )
        taken: dict[str, int] = {}
        chosen: set[int] = set()
        for e in ranked:
            if taken.get(e.group, 0) < targets.get(e.group, 0):
                taken[e.group] = taken.get(e.group, 0) + 1
                chosen.add(id(e))
        counts["mix"] += len(entries) - len(chosen)
        counts["mix_counts"] = {
            g: {"available": available.get(g, 0), "kept": targets.get(g, 0)}
            for g in sorted(set(available) | set(targets))
        }
        entries = [e for e in entries if id(e) in chosen]
    return entries


def new_counts(config: FormatConfig) -> dict[str, Any]:
    """The counters of the steps ``config`` enables, at zero."""
    names: list[str] = []
    if config.pass_rate:
        names += ["pass_rate_problems", "pass_rate_samples", "pass_rate_incomplete"]
    if config.keep != "all":
        names.append("keep")
    if config.dedup_problems:
        names += [
            "duplicate_problems_exact",
            "duplicate_problems_near",
            "duplicate_problem_examples",
        ]
    if config.dedup_completions:
        names += ["duplicate_completions_exact", "duplicate_completions_near"]
    if config.mix:
        names.append("mix")
    return dict.fromkeys(names, 0)


def selection_stage(
    config: FormatConfig,
    make_example: Callable[[Sample, FormatConfig], Example | None],
    progress: StageProgress | None = None,
    counts: dict[str, Any] | None = None,
) -> StageFn:
    """The format stage with selection: verified samples in, selected examples out.

    Args:
        config: The format options.
        make_example: Builds a sample's example (None when it is not eligible).
        progress: Counts the examples sent.
        counts: Filled with what each step removed (keys of :func:`new_counts`, plus
            ``mix_counts``: per group, the examples available and kept).
    """
    counts = counts if counts is not None else {}
    counts.update(new_counts(config))
    spooling = bool(config.dedup_problems or config.dedup_completions or config.mix)
    by = config.mix_by

    async def stage(
        receive: MemoryObjectReceiveStream[Any], send: MemoryObjectSendStream[Any]
    ) -> None:
        groups = _Groups(config, counts) if (config.keep != "all" or config.pass_rate) else None
        spool = _Spool(config.spool_dir) if spooling else None

        async def emit(samples: list[Sample], examples: list[Example | None]) -> None:
            for sample, example in zip(samples, examples, strict=True):
                if example is None:
                    example = make_example(sample, config)
                    assert example is not None
                if spool is not None:
                    spool.add(example, sample, example.domain if by == "domain" else example.source)
                    if spool.pending_bytes > 1 << 20:
                        await anyio.to_thread.run_sync(spool.flush)
                    continue
                await send.send(example)
                if progress:
                    progress.done += 1

        try:
            async with receive, send:
                async for sample in receive:
                    example = make_example(sample, config)
                    if groups is None:
                        if example is not None:
                            await emit([sample], [example])
                        continue
                    chosen = groups.add(sample, example is not None)
                    if chosen:
                        await emit(chosen, [None] * len(chosen))
                if groups is not None:
                    rest = groups.finish()
                    await emit(rest, [None] * len(rest))
                if spool is not None:
                    await anyio.to_thread.run_sync(spool.flush)
                    survivors = await anyio.to_thread.run_sync(
                        select_spooled, spool, config, counts
                    )
                    for start in range(0, len(survivors), 256):
                        rows = await anyio.to_thread.run_sync(
                            spool.read_rows, survivors[start : start + 256]
                        )
                        for row in rows:
                            await send.send(Example.from_dict(row))
                            if progress:
                                progress.done += 1
                removed = {k: v for k, v in counts.items() if k != "mix_counts" and v}
                if removed:
                    log.info(
                        "format: selection removed %s",
                        ", ".join(f"{k} {v}" for k, v in removed.items()),
                    )
        finally:
            if spool is not None:
                spool.close()

    return stage
