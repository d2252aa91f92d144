"""What the HTML report shows beyond the counts of :class:`~sfstream.report.Report`, gathered
from the stream in bounded memory.

:class:`ReportDetails` observes records as they pass and keeps

* per problem, only its sample and correct counts (for pass@k), under its source, subject and
  level;
* histograms of completion tokens and reasoning steps, kept against rejected samples, as counts
  per bin (the bins are fixed, so a million samples cost what a hundred do);
* a few kept and rejected completions, drawn uniformly by reservoir sampling with a fixed seed
  and cut to a bounded length;
* when each stage emitted its first and its last record, and the sandbox time of code tests.

:func:`pass_at_k` is the unbiased estimator of Chen et al. (2021), computed exactly.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sfstream.quality import count_steps, count_tokens
from sfstream.records import Example, Problem, Record, Sample

__all__ = ["Histogram", "ReportDetails", "pass_at_k", "pass_at_k_table"]


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimate of pass@k from ``n`` samples of which ``c`` are correct:
    ``1 - C(n - c, k) / C(n, k)``, the chance that ``k`` samples drawn without replacement
    from the ``n`` hold at least one correct one.

    The binomials are exact integers and the one division is correctly rounded, so the result
    is the float nearest the exact value for any ``n`` (no cancellation near 0 or 1).

    Raises:
        ValueError: unless ``0 <= c <= n`` and ``1 <= k <= n``.
    """
    if not (0 <= c <= n and 1 <= k <= n):
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    total = math.comb(n, k)
    return (total - math.comb(n - c, k)) / total


class Histogram:
    """Counts per fixed bin: one bin per integer below ``linear_until``, then ``per_octave``
    bins per doubling (geometric bins, so lengths from 10 to 100,000 tokens share one chart).
    Memory is one counter per bin that has a value."""

    def __init__(self, linear_until: int = 16, per_octave: int = 4) -> None:
        self.linear_until = linear_until
        self.per_octave = per_octave
        self.counts: Counter[int] = Counter()
        self.total = 0
        self.sum = 0

    def bin_of(self, value: int) -> int:
        """The bin holding ``value`` (negative values count as 0)."""
        if value < self.linear_until:
            return max(value, 0)
        octaves = math.log2(value / self.linear_until)
        return self.linear_until + math.floor(octaves * self.per_octave + 1e-9)

    def edges(self, index: int) -> tuple[float, float]:
        """The half-open range ``[low, high)`` of values of bin ``index``."""
        if index < self.linear_until:
            return float(index), float(index + 1)
        step = index - self.linear_until
        low = self.linear_until * 2 ** (step / self.per_octave)
        high = self.linear_until * 2 ** ((step + 1) / self.per_octave)
        return math.ceil(low - 1e-9), math.ceil(high - 1e-9)

    def add(self, value: int) -> None:
        """Counts one value."""
        self.counts[self.bin_of(value)] += 1
        self.total += 1
        self.sum += value

    def quantile(self, q: float) -> float | None:
        """The lower edge of the bin holding the ``q`` quantile (None when empty)."""
        if not self.total:
            return None
        need = q * self.total
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= need:
                return self.edges(index)[0]
        return self.edges(max(self.counts))[0]


@dataclass
class Shown:
    """One completion shown on the page (texts cut to a bounded length)."""

    id: str
    sample_index: int | None
    source: str
    domain: str
    status: str | None
    correct: bool | None
    extracted: str | None
    detail: str | None
    passed: int | None
    total: int | None
    tokens: int | None
    steps: int | None
    reasoning: str | None
    completion: str


#: Characters of a completion kept for the page: its start and its end.
SHOWN_HEAD = 2500
SHOWN_TAIL = 800


def _cut(text: str | None) -> str | None:
    if text is None or len(text) <= SHOWN_HEAD + SHOWN_TAIL:
        return text
    skipped = len(text) - SHOWN_HEAD - SHOWN_TAIL
    return f"{text[:SHOWN_HEAD]}\n[... {skipped:,} characters not shown ...]\n{text[-SHOWN_TAIL:]}"


class _Reservoir:
    """A uniform sample of at most ``size`` items of a stream (Vitter's algorithm R)."""

    def __init__(self, size: int, rng: random.Random) -> None:
        self.size = size
        self.rng = rng
        self.items: list[tuple[int, Shown]] = []
        self.seen = 0

    def offer(self, make: Any) -> None:
        """Counts one item; ``make()`` builds it only if it is kept."""
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append((self.seen, make()))
            return
        slot = self.rng.randrange(self.seen)
        if slot < self.size:
            self.items[slot] = (self.seen, make())

    def shown(self) -> list[Shown]:
        """The kept items in stream order."""
        return [item for _, item in sorted(self.items, key=lambda t: t[0])]


@dataclass
class Stage:
    """When a stage emitted its first and last record, in seconds since the report began."""

    first: float
    last: float
    records: int = 0


def _level(meta: Mapping[str, Any]) -> str | None:
    value = meta.get("level")
    if value is None:
        value = meta.get("difficulty")
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)


def _subject(meta: Mapping[str, Any]) -> str | None:
    value = meta.get("subject")
    return None if value is None or isinstance(value, dict | list) else str(value)


@dataclass
class ReportDetails:
    """The report's details, observed record by record in bounded memory.

    Attributes:
        shown: Completions kept for the page per group (``kept``, ``rejected``,
            ``unverified``, ``examples``).
        seed: Seed of the reservoir sampling.
        measure_generated: Measure samples without a verdict (for ``sfstream stats``; a run
            measures each sample once, when it is verified).
        problems: Per problem id, ``[samples, correct, group]`` with ``group`` its
            ``(source, subject, level)``.
        kinds: Records seen by kind (``problem``, ``sample``, ``verified``, ``example``).
        tokens, steps: Histograms per group (``kept``, ``rejected``, ``unverified``,
            ``examples``).
        stages: First and last record of each stage.
        test_time: Sandbox time of code tests: ``cases``, ``wall_s``, ``cpu_s``, ``samples``.
        problem_groups: Problems seen (``collect``), per ``(source, subject, level)``.
    """

    shown: int = 4
    seed: int = 0
    measure_generated: bool = True
    problems: dict[str, list[Any]] = field(default_factory=dict)
    kinds: Counter[str] = field(default_factory=Counter)
    tokens: dict[str, Histogram] = field(default_factory=dict)
    steps: dict[str, Histogram] = field(default_factory=dict)
    stages: dict[str, Stage] = field(default_factory=dict)
    test_time: dict[str, float] = field(default_factory=dict)
    problem_groups: Counter[tuple[str, str | None, str | None]] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)
    _groups: dict[tuple[str, str | None, str | None], tuple[str, str | None, str | None]] = field(
        default_factory=dict, repr=False
    )
    _reservoirs: dict[str, _Reservoir] = field(default_factory=dict, repr=False)
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def _group(self, record: Problem) -> tuple[str, str | None, str | None]:
        key = (record.source, _subject(record.meta), _level(record.meta))
        # One tuple per group, shared by its problems.
        return self._groups.setdefault(key, key)

    def observe(self, stage: str, record: Record) -> None:
        """Counts one record seen after ``stage`` (the stages of :class:`Report`)."""
        now = time.monotonic() - self.started
        timing = self.stages.get(stage)
        if timing is None:
            self.stages[stage] = Stage(now, now, 1)
        else:
            timing.last = now
            timing.records += 1
        if isinstance(record, Example):
            if stage == "format":
                self.kinds["example"] += 1
                self._example(record)
        elif isinstance(record, Sample):
            if stage == "verify" and record.verdict is not None:
                self.kinds["verified"] += 1
                self._verified(record)
            elif stage == "generate" and record.verdict is None:
                self.kinds["sample"] += 1
                if self.measure_generated:
                    self._measure("unverified", record, None)
        elif isinstance(record, Problem) and stage == "collect":
            self.kinds["problem"] += 1
            self.problem_groups[self._group(record)] += 1

    def _histograms(self, group: str) -> tuple[Histogram, Histogram]:
        if group not in self.tokens:
            self.tokens[group] = Histogram()
            self.steps[group] = Histogram(linear_until=64, per_octave=4)
        return self.tokens[group], self.steps[group]

    def _reservoir(self, group: str) -> _Reservoir:
        if group not in self._reservoirs:
            self._reservoirs[group] = _Reservoir(self.shown, self._rng)
        return self._reservoirs[group]

    def _measure(self, group: str, sample: Sample, quality: Mapping[str, Any] | None) -> None:
        tokens = steps = None
        if quality is not None:
            tokens = quality.get("completion_tokens")
            steps = quality.get("steps")
        if not isinstance(tokens, int):
            usage = (sample.usage or {}).get("completion_tokens")
            tokens = (
                usage
                if isinstance(usage, int) and not isinstance(usage, bool)
                else count_tokens(sample.reasoning or "") + count_tokens(sample.completion)
            )
        if not isinstance(steps, int):
            steps = count_steps(sample.reasoning or "") + count_steps(sample.completion)
        hist_tokens, hist_steps = self._histograms(group)
        hist_tokens.add(tokens)
        hist_steps.add(steps)
        verdict = sample.verdict

        def make() -> Shown:
            return Shown(
                id=sample.id,
                sample_index=sample.sample_index,
                source=sample.source,
                domain=sample.domain,
                status=verdict.status if verdict else None,
                correct=verdict.correct if verdict else None,
                extracted=_cut(verdict.extracted) if verdict else None,
                detail=verdict.detail if verdict else None,
                passed=verdict.passed if verdict else None,
                total=verdict.total if verdict else None,
                tokens=tokens,
                steps=steps,
                reasoning=_cut(sample.reasoning),
                completion=_cut(sample.completion) or "",
            )

        self._reservoir(group).offer(make)

    def _verified(self, sample: Sample) -> None:
        verdict = sample.verdict
        assert verdict is not None
        entry = self.problems.get(sample.id)
        if entry is None:
            entry = self.problems[sample.id] = [0, 0, self._group(sample)]
        entry[0] += 1
        entry[1] += verdict.correct
        quality = verdict.quality
        self._measure("kept" if verdict.correct else "rejected", sample, quality)
        if quality:
            walls = quality.get("test_wall_s")
            cpus = quality.get("test_cpu_s")
            if isinstance(walls, list) and walls:
                t = self.test_time
                t["samples"] = t.get("samples", 0) + 1
                t["cases"] = t.get("cases", 0) + len(walls)
                wall = sum(w for w in walls if isinstance(w, int | float))
                t["wall_s"] = t.get("wall_s", 0.0) + wall
                if isinstance(cpus, list):
                    cpu = sum(c for c in cpus if isinstance(c, int | float))
                    t["cpu_s"] = t.get("cpu_s", 0.0) + cpu

    def _example(self, example: Example) -> None:
        answer = next(
            (m["content"] for m in reversed(example.messages) if m["role"] == "assistant"), ""
        )
        tokens = example.meta.get("completion_tokens")
        if not isinstance(tokens, int) or isinstance(tokens, bool):
            tokens = count_tokens(answer)
        steps = count_steps(answer)
        hist_tokens, hist_steps = self._histograms("examples")
        hist_tokens.add(tokens)
        hist_steps.add(steps)
        index = example.meta.get("sample_index")

        def make() -> Shown:
            return Shown(
                id=example.id,
                sample_index=index if isinstance(index, int) else None,
                source=example.source,
                domain=example.domain,
                status=str(example.meta.get("status")) if "status" in example.meta else None,
                correct=True,
                extracted=None,
                detail=None,
                passed=example.meta.get("tests_passed"),
                total=example.meta.get("tests_total"),
                tokens=tokens,
                steps=steps,
                reasoning=None,
                completion=_cut(answer) or "",
            )

        self._reservoir("examples").offer(make)

    def shown_of(self, group: str) -> list[Shown]:
        """The completions kept for the page from ``group``."""
        reservoir = self._reservoirs.get(group)
        return reservoir.shown() if reservoir else []

    def samples_per_problem(self) -> Counter[int]:
        """How many problems have each number of verified samples."""
        return Counter(entry[0] for entry in self.problems.values())


@dataclass
class PassRow:
    """Pass rate and pass@k of one group of problems."""

    name: str
    samples: int = 0
    correct: int = 0
    problems: int = 0
    solved: int = 0
    # k -> (sum of per-problem pass@k, problems with at least k samples)
    at_k: dict[int, list[float]] = field(default_factory=dict)

    @property
    def pass_rate(self) -> float | None:
        """Correct samples over samples."""
        return self.correct / self.samples if self.samples else None

    def pass_at(self, k: int) -> float | None:
        """Mean pass@k over the problems with at least ``k`` samples."""
        total, count = self.at_k.get(k, (0.0, 0))
        return total / count if count else None

    def problems_at(self, k: int) -> int:
        """Problems with at least ``k`` samples."""
        return int(self.at_k.get(k, (0.0, 0))[1])


def pass_at_k_table(
    problems: Iterable[tuple[int, int, Any]], ks: Iterable[int], key: Any
) -> dict[str, PassRow]:
    """Pass rate and mean pass@k per group: ``problems`` gives ``(n, c, group)`` per problem
    and ``key(group)`` the row name (None leaves the problem out). A problem enters pass@k
    for each ``k <= n``."""
    ks = sorted(set(ks))
    rows: dict[str, PassRow] = {}
    for n, c, group in problems:
        name = key(group)
        if name is None:
            continue
        row = rows.get(name)
        if row is None:
            row = rows[name] = PassRow(name, at_k={k: [0.0, 0] for k in ks})
        row.samples += n
        row.correct += c
        row.problems += 1
        row.solved += c > 0
        for k in ks:
            if k <= n:
                acc = row.at_k[k]
                acc[0] += pass_at_k(n, c, k)
                acc[1] += 1
    return dict(sorted(rows.items()))
