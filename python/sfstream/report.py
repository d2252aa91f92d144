"""What a run did: records per stage, verdicts, and pass rates per source and domain.

A :class:`Report` observes records as they pass; ``sfstream run`` writes it as JSON and as a
short text table, and ``sfstream stats`` builds one from any NDJSON file of records.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sfstream.records import Example, Problem, Record, Sample
from sfstream.report_details import ReportDetails

__all__ = ["Report"]


@dataclass
class _Rate:
    verified: int = 0
    correct: int = 0
    problems: set[str] = field(default_factory=set)
    solved: set[str] = field(default_factory=set)
    # Problems counted without their ids (reports of disjoint shards summed by merge).
    more_problems: int = 0
    more_solved: int = 0

    @property
    def problem_count(self) -> int:
        return len(self.problems) + self.more_problems

    @property
    def solved_count(self) -> int:
        return len(self.solved) + self.more_solved

    def to_dict(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "correct": self.correct,
            "pass_rate": round(self.correct / self.verified, 4) if self.verified else None,
            "problems": self.problem_count,
            "problems_solved": self.solved_count,
        }


@dataclass
class Report:
    """Counts of one run, filled by :meth:`observe`.

    Attributes:
        stages: Records seen after each stage (``collect``, ``generate``, ``verify``,
            ``format``).
        statuses: Verdict statuses and their counts.
        low_quality: For ``low_quality`` verdicts, each threshold failed and its count (a sample
            failing two thresholds counts under both).
        finish_reasons: Generation finish reasons and their counts.
        by_source: Pass rates per source.
        by_domain: Pass rates per domain.
        tokens: Prompt and completion tokens reported by the server (a response's counts
            shared by several samples counted once).
        skipped_lines: Malformed input lines skipped.
        outputs: Files written, by role.
        elapsed: Seconds the run took.
        resumed: For ``sfstream run``: verified samples kept from an earlier attempt of the
            run and verified now, samples generated now and reused from the journal.
        details: What the HTML report shows beyond these counts (pass@k, histograms, sample
            completions, stage timings), observed with them when set; not in the JSON.
        selection: What each selection step of the format stage removed (``sfstream.select``:
            ``keep``, ``pass_rate_problems``, ``duplicate_problems_near``, ``mix``, ...), and
            ``mix_counts``: per mixed group, the examples available and kept.
        problem_ids: Count distinct problems (and problems solved) by keeping their ids. False
            when the caller counts them itself, in ``more_problems`` and ``more_solved`` of
            ``by_source`` and ``by_domain`` (``sfstream run`` does, in bounded memory).
    """

    stages: dict[str, int] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    low_quality: Counter[str] = field(default_factory=Counter)
    finish_reasons: Counter[str] = field(default_factory=Counter)
    by_source: dict[str, _Rate] = field(default_factory=lambda: defaultdict(_Rate))
    by_domain: dict[str, _Rate] = field(default_factory=lambda: defaultdict(_Rate))
    tokens: Counter[str] = field(default_factory=Counter)
    skipped_lines: int = 0
    outputs: dict[str, str] = field(default_factory=dict)
    elapsed: float | None = None
    resumed: dict[str, int] = field(default_factory=dict)
    details: ReportDetails | None = None
    selection: dict[str, Any] = field(default_factory=dict)
    problem_ids: bool = True

    def observe(self, stage: str, record: Record) -> None:
        """Counts one record seen after ``stage``."""
        self.stages[stage] = self.stages.get(stage, 0) + 1
        if self.details is not None:
            self.details.observe(stage, record)
        if isinstance(record, Sample):
            if stage == "generate":
                self.finish_reasons[record.finish_reason] += 1
                usage = record.usage or {}
                shared_by = usage.get("shared_by")
                share = shared_by if isinstance(shared_by, int) and shared_by > 1 else 1
                for key in ("prompt_tokens", "completion_tokens"):
                    value = usage.get(key)
                    if isinstance(value, int) and not isinstance(value, bool):
                        # A response's counts shared by its samples are counted once over
                        # them: each sample adds its part, the first one the remainder.
                        part, rest = divmod(value, share)
                        first = record.sample_index % share == 0
                        self.tokens[key] += part + (rest if first else 0)
            verdict = record.verdict
            if verdict is not None and stage == "verify":
                self.statuses[verdict.status] += 1
                if verdict.status == "low_quality":
                    for reason in low_quality_reasons(verdict.detail):
                        self.low_quality[reason] += 1
                for rate in (self.by_source[record.source], self.by_domain[record.domain]):
                    rate.verified += 1
                    rate.correct += verdict.correct
                    if self.problem_ids:
                        rate.problems.add(record.id)
                        if verdict.correct:
                            rate.solved.add(record.id)

    def observe_any(self, record: Record) -> None:
        """Counts a record under the stage that produced it (for ``sfstream stats``)."""
        if isinstance(record, Example):
            self.observe("format", record)
        elif isinstance(record, Sample):
            self.observe("generate", record)
            if record.verdict is not None:
                self.observe("verify", record)
        elif isinstance(record, Problem):
            self.observe("collect", record)

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return {
            "stages": dict(self.stages),
            "statuses": dict(self.statuses.most_common()),
            **({"low_quality": dict(self.low_quality.most_common())} if self.low_quality else {}),
            "finish_reasons": dict(self.finish_reasons.most_common()),
            "by_domain": {k: v.to_dict() for k, v in sorted(self.by_domain.items())},
            "by_source": {k: v.to_dict() for k, v in sorted(self.by_source.items())},
            "tokens": dict(self.tokens),
            "skipped_lines": self.skipped_lines,
            "outputs": dict(self.outputs),
            "elapsed_seconds": None if self.elapsed is None else round(self.elapsed, 3),
            **({"resumed": dict(self.resumed)} if self.resumed else {}),
            **({"selection": dict(self.selection)} if self.selection else {}),
        }

    def to_text(self) -> str:
        """A short human-readable summary."""
        lines = []
        order = ["collect", "generate", "verify", "format"]
        names = {
            "collect": "problems",
            "generate": "samples",
            "verify": "verified",
            "format": "examples",
        }
        counts = [f"{self.stages[s]} {names[s]}" for s in order if s in self.stages]
        if counts:
            lines.append("records: " + " -> ".join(counts))
        if self.statuses:
            lines.append(
                "verdicts: " + ", ".join(f"{k} {v}" for k, v in self.statuses.most_common())
            )
        if self.low_quality:
            lines.append(
                "low_quality: " + ", ".join(f"{k} {v}" for k, v in self.low_quality.most_common())
            )
        for title, table in (("domain", self.by_domain), ("source", self.by_source)):
            if not table:
                continue
            lines.append(
                f"{'by ' + title:<16} {'verified':>9} {'correct':>8} {'rate':>7} {'solved':>9}"
            )
            for key, rate in sorted(table.items()):
                pct = f"{100 * rate.correct / rate.verified:.1f}%" if rate.verified else "-"
                lines.append(
                    f"  {key:<14} {rate.verified:>9} {rate.correct:>8} {pct:>7} "
                    f"{rate.solved_count:>4}/{rate.problem_count:<4}"
                )
        if self.tokens:
            lines.append("tokens: " + ", ".join(f"{k} {v:,}" for k, v in self.tokens.items()))
        if self.skipped_lines:
            lines.append(f"skipped input lines: {self.skipped_lines}")
        if self.resumed.get("verified_kept") or self.resumed.get("reused_from_journal"):
            r = self.resumed
            lines.append(
                f"resumed: {r.get('verified_kept', 0)} verified sample(s) kept, "
                f"{r.get('verified_now', 0)} verified now; "
                f"{r.get('reused_from_journal', 0)} sample(s) from the journal, "
                f"{r.get('generated_now', 0)} generated now"
            )
        removed = {k: v for k, v in self.selection.items() if k != "mix_counts"}
        if removed:
            lines.append("selection removed: " + ", ".join(f"{k} {v}" for k, v in removed.items()))
        mix = self.selection.get("mix_counts")
        if mix:
            lines.append(
                "mix kept: "
                + ", ".join(f"{g} {c['kept']}/{c['available']}" for g, c in mix.items())
            )
        if self.elapsed is not None:
            lines.append(f"elapsed: {self.elapsed:.1f}s")
        return "\n".join(lines)


_LOW_QUALITY_PREFIX = "below quality thresholds: "


def low_quality_reasons(detail: str | None) -> list[str]:
    """The threshold names in a ``low_quality`` verdict's ``detail``."""
    if not detail or not detail.startswith(_LOW_QUALITY_PREFIX):
        return ["unknown"] if detail is None else [detail.split(" ", 1)[0]]
    parts = detail[len(_LOW_QUALITY_PREFIX) :].split("; ")
    return [p.split(" ", 1)[0] for p in parts if p]
