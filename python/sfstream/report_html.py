"""``report.html``: one self-contained page of what a run (or any stage's output) holds.

The page loads nothing: its style is inline and its charts are inline SVG drawn by matplotlib
(the ``sfstream[report]`` extra) from the histogram bins and counts of a
:class:`~sfstream.report.Report` and its :class:`~sfstream.report_details.ReportDetails`, never
from the samples themselves. Without matplotlib the page has its tables and a note instead of
charts. Every text that comes from a record (completions are untrusted model output) is escaped.
"""

from __future__ import annotations

import html
import io
import logging
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from sfstream import __version__
from sfstream.report import Report
from sfstream.report_details import (
    Histogram,
    PassRow,
    ReportDetails,
    Shown,
    pass_at_k_table,
)

__all__ = ["render_html", "write_html"]

log = logging.getLogger("sfstream")

KEPT = "#2a9d8f"
REJECTED = "#e76f51"
OTHER = "#6c7a96"

_STAGE_NAMES = {
    "collect": "collect (problems)",
    "generate": "generate (samples)",
    "verify": "verify (verified samples)",
    "format": "format (training examples)",
}


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _pct(value: float | None) -> str:
    return "\u2013" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "\u2013"
    return f"{value:,.{digits}f}"


def _table(head: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = ["<table><thead><tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


# ---------------------------------------------------------------- charts


def warm_up() -> None:
    """Imports what the page's charts need now (about half a second), so that a caller can do
    it while other work runs rather than when the page is drawn."""
    _Charts()


class _Charts:
    """Draws matplotlib figures as inline SVG (or says why it cannot)."""

    def __init__(self) -> None:
        self.missing: str | None = None
        try:
            # The figure and its SVG canvas directly: no pyplot, so the backend and the figures
            # of a program that embeds sfstream are left alone.
            import matplotlib
            from matplotlib.backends.backend_svg import FigureCanvasSVG
            from matplotlib.figure import Figure
            from matplotlib.ticker import PercentFormatter
        except ImportError as e:
            self.missing = str(e)
            return
        self._matplotlib = matplotlib
        self._figure = Figure
        self._canvas = FigureCanvasSVG
        self.percent = PercentFormatter

    def figure(self, width: float, height: float) -> Any:
        fig = self._figure(figsize=(width, height), dpi=100)
        self._canvas(fig)
        return fig

    def svg(self, fig: Any, name: str) -> str:
        """The figure as an ``<svg>`` element: no XML prologue, no DOCTYPE, no metadata, text
        kept as text, ids unique to the chart."""
        buf = io.StringIO()
        with self._matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": name}):
            fig.savefig(
                buf,
                format="svg",
                bbox_inches="tight",
                metadata={"Creator": None, "Date": None, "Format": None, "Type": None},
            )
        text = buf.getvalue()
        text = text[text.index("<svg") :]
        text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.DOTALL)
        return f'<div class="chart" data-chart="{_e(name)}">{text}</div>'

    def run(self, name: str, draw: Callable[[], str]) -> str:
        if self.missing is not None:
            return ""
        return draw()


def _label(text: str, limit: int = 40) -> str:
    """A record's name as chart text: cut to ``limit`` characters, and ``$`` escaped so that
    matplotlib never reads it as math."""
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    return text.replace("$", r"\$")


def _style_axes(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8)
    ax.grid(axis="x", color="#e4e7ec", linewidth=0.6)
    ax.set_axisbelow(True)


def _bar_chart(
    charts: _Charts,
    name: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    colors: Sequence[str],
    *,
    xlabel: str,
    percent: bool = False,
) -> str:
    def draw() -> str:
        height = 0.8 + 0.28 * max(len(labels), 1)
        fig = charts.figure(5.6, height)
        ax = fig.add_subplot()
        y = list(range(len(labels)))[::-1]
        ax.barh(y, values, color=colors, height=0.7)
        ax.set_yticks(y, [_label(x) for x in labels])
        top = max(values) if values else 1
        for yi, v in zip(y, values, strict=True):
            text = f"{100 * v:.1f}%" if percent else f"{v:,.0f}"
            ax.text(v + top * 0.01, yi, text, va="center", fontsize=8)
        ax.set_xlim(0, 1.12 if percent else top * 1.15 or 1)
        if percent:
            ax.xaxis.set_major_formatter(charts.percent(1.0, decimals=0))
        ax.set_xlabel(xlabel, fontsize=9)
        ax.set_title(title, fontsize=10, loc="left")
        _style_axes(ax)
        return charts.svg(fig, name)

    return charts.run(name, draw)


def _histogram_chart(
    charts: _Charts,
    name: str,
    title: str,
    xlabel: str,
    groups: Sequence[tuple[str, Histogram, str]],
    *,
    log_x: bool,
) -> str:
    """Each group's share of samples per bin, as an outline over a filled area. On a log axis
    the share is per quarter doubling (the width of the geometric bins), on a linear axis per
    unit; a linear axis ends at the 97th percentile of all groups and says how many samples
    lie beyond."""
    groups = [g for g in groups if g[1].total]
    if not groups:
        return ""

    def draw() -> str:
        fig = charts.figure(5.6, 2.8)
        ax = fig.add_subplot()
        limit = None
        if not log_x:
            combined = Histogram(groups[0][1].linear_until, groups[0][1].per_octave)
            for _, hist, _ in groups:
                combined.counts.update(hist.counts)
                combined.total += hist.total
            limit = max(float(combined.quantile(0.97) or 0) + 1, 16.0)
        beyond = 0
        for label, hist, color in groups:
            edges: list[float] = []
            heights: list[float] = []
            for index in sorted(hist.counts):
                low, high = hist.edges(index)
                share = hist.counts[index] / hist.total
                if limit is not None and low >= limit:
                    beyond += hist.counts[index]
                    continue
                if log_x:
                    low = max(low, 0.5)
                    height = share * 0.25 / math.log2(high / low)
                else:
                    height = share / max(high - low, 1)
                if edges and edges[-1] != low:
                    edges += [edges[-1], low]
                    heights += [0.0, 0.0]
                edges += [low, high]
                heights += [height, height]
            ax.fill_between(edges, heights, color=color, alpha=0.3, linewidth=0)
            ax.plot(edges, heights, color=color, linewidth=1.2, label=f"{label} ({hist.total:,})")
        if log_x:
            ax.set_xscale("log")
            ax.set_ylabel("share per ¼ doubling", fontsize=8)
        else:
            ax.set_xlim(0, limit)
            ax.set_ylabel("share per unit", fontsize=8)
        ax.set_ylim(bottom=0)
        label_x = xlabel
        if beyond:
            label_x += f" ({beyond:,} samples beyond {limit:,.0f} not drawn)"
        ax.set_xlabel(label_x, fontsize=9)
        ax.set_title(title, fontsize=10, loc="left")
        ax.legend(fontsize=8, frameon=False)
        _style_axes(ax)
        return charts.svg(fig, name)

    return charts.run(name, draw)


def _timeline_chart(charts: _Charts, rows: Sequence[tuple[str, float, float, int]]) -> str:
    def draw() -> str:
        fig = charts.figure(5.6, 0.8 + 0.34 * len(rows))
        ax = fig.add_subplot()
        y = list(range(len(rows)))[::-1]
        for yi, (_, first, last, count) in zip(y, rows, strict=True):
            ax.barh(yi, max(last - first, 0.002), left=first, color=KEPT, height=0.6)
            ax.text(last, yi, f"  {count:,}", va="center", fontsize=8)
        ax.set_yticks(y, [r[0] for r in rows])
        ax.set_xlim(0, max(r[2] for r in rows) * 1.15 or 1)
        ax.set_xlabel("seconds since the run started (first to last record out)", fontsize=9)
        ax.set_title("When each stage emitted records", fontsize=10, loc="left")
        _style_axes(ax)
        return charts.svg(fig, "timeline")

    return charts.run("timeline", draw)


# ---------------------------------------------------------------- sections


def _section(title: str, *parts: str, ident: str = "") -> str:
    anchor = f' id="{_e(ident)}"' if ident else ""
    return f"<section{anchor}><h2>{_e(title)}</h2>{''.join(p for p in parts if p)}</section>"


def _note(text: str, cls: str = "note") -> str:
    return f'<p class="{cls}">{_e(text)}</p>'


def _cards(items: Sequence[tuple[str, str]]) -> str:
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="v">{_e(v)}</div><div class="k">{_e(k)}</div></div>'
            for k, v in items
        )
        + "</div>"
    )


def _ks(details: ReportDetails) -> list[int]:
    """k = 1 and the number of samples most problems have."""
    per_problem = details.samples_per_problem()
    if not per_problem:
        return [1]
    n = max(per_problem.items(), key=lambda kv: (kv[1], kv[0]))[0]
    return sorted({1, n})


def _pass_section(report: Report, details: ReportDetails, charts: _Charts) -> str:
    if not details.problems:
        return _section(
            "Pass rate and pass@k",
            _note(
                "This input has no verified samples, so it has no pass rates: "
                "run verify (or sfstream run) to get them.",
                "lacks",
            ),
            ident="pass",
        )
    ks = _ks(details)
    per_problem = details.samples_per_problem()
    entries = [(e[0], e[1], e[2]) for e in details.problems.values()]
    head = ["", "samples", "correct", "pass rate", "problems", "solved"]
    head += [f"pass@{k}" for k in ks]
    parts = []
    tables: dict[str, dict[str, PassRow]] = {}
    for title, key in (
        ("source", lambda g: g[0]),
        ("subject", lambda g: g[1]),
        ("level", lambda g: g[2]),
    ):
        table = pass_at_k_table(entries, ks, key)
        tables[title] = table
        if not table:
            parts.append(_note(f"No problem carries a {title} (meta.{title}).", "lacks"))
            continue
        rows = []
        for name, row in table.items():
            cells: list[Any] = [
                name,
                f"{row.samples:,}",
                f"{row.correct:,}",
                _pct(row.pass_rate),
                f"{row.problems:,}",
                f"{row.solved:,}",
            ]
            for k in ks:
                value = row.pass_at(k)
                counted = row.problems_at(k)
                partial = 0 < counted < row.problems
                cells.append(_pct(value) + (f" ({counted} of {row.problems})" if partial else ""))
            rows.append(cells)
        parts.append(
            f"<div><h3>By {_e(title)}</h3>" + _table([f"by {title}", *head[1:]], rows) + "</div>"
        )
    total = pass_at_k_table(entries, ks, lambda g: "all")["all"]
    counts = ", ".join(
        f"{p:,} problem{'s' if p != 1 else ''} with {n} sample{'s' if n != 1 else ''}"
        for n, p in sorted(per_problem.items())
    )
    explain = _note(
        "pass@k is the unbiased estimator of Chen et al. (2021), "
        "1 \u2212 C(n\u2212c, k)/C(n, k) for a "
        f"problem with n samples of which c are correct, averaged over the problems with at "
        f"least k samples (k = {', '.join(map(str, ks))}). Samples per problem: {counts}. "
        f"Pass rate: correct samples over verified samples."
    )
    cards = _cards(
        [
            ("verified samples", f"{total.samples:,}"),
            ("correct", f"{total.correct:,}"),
            ("pass rate", _pct(total.pass_rate)),
            *((f"pass@{k}", _pct(total.pass_at(k))) for k in ks),
            ("problems solved", f"{total.solved:,} / {total.problems:,}"),
        ]
    )
    sources = tables["source"]
    chart = _bar_chart(
        charts,
        "pass-by-source",
        "Pass rate by source",
        list(sources),
        [row.pass_rate or 0.0 for row in sources.values()],
        [KEPT] * len(sources),
        xlabel="correct samples / verified samples",
        percent=True,
    )
    levels = tables["level"]
    level_chart = (
        _bar_chart(
            charts,
            "pass-by-level",
            "Pass rate by level",
            list(levels),
            [row.pass_rate or 0.0 for row in levels.values()],
            [KEPT] * len(levels),
            xlabel="correct samples / verified samples",
            percent=True,
        )
        if levels
        else ""
    )
    return _section(
        "Pass rate and pass@k",
        cards,
        f'<div class="charts">{chart}{level_chart}</div>',
        explain,
        '<div class="tables">' + "".join(parts) + "</div>",
        ident="pass",
    )


def _verdict_section(report: Report, charts: _Charts) -> str:
    if not report.statuses:
        return _section(
            "Verdicts",
            _note("This input has no verdicts (it holds no verified samples).", "lacks"),
            ident="verdicts",
        )
    statuses = report.statuses.most_common()
    total = sum(report.statuses.values())
    chart = _bar_chart(
        charts,
        "statuses",
        "Verdict statuses",
        [s for s, _ in statuses],
        [c for _, c in statuses],
        [KEPT if s == "correct" else REJECTED for s, _ in statuses],
        xlabel="samples",
    )
    table = _table(
        ["status", "samples", "share"],
        [(s, f"{c:,}", _pct(c / total)) for s, c in statuses],
    )
    parts = [f'<div class="charts">{chart}<div>{table}</div></div>']
    if report.finish_reasons:
        parts.append(
            "<h3>Finish reasons</h3>"
            + _table(
                ["finish reason", "samples"],
                [(r, f"{c:,}") for r, c in report.finish_reasons.most_common()],
            )
        )
    return _section("Verdicts", *parts, ident="verdicts")


def _quality_section(report: Report, details: ReportDetails, charts: _Charts) -> str:
    parts = []
    if not report.statuses:
        parts.append(_note("This input has no verdicts, so no quality-threshold drops.", "lacks"))
    elif report.low_quality:
        reasons = report.low_quality.most_common()
        parts.append(
            '<div class="charts">'
            + _bar_chart(
                charts,
                "low-quality",
                "Samples dropped per quality threshold",
                [r for r, _ in reasons],
                [c for _, c in reasons],
                [REJECTED] * len(reasons),
                xlabel="samples (one failing two thresholds counts under both)",
            )
            + "<div>"
            + _table(["threshold failed", "samples"], [(r, f"{c:,}") for r, c in reasons])
            + f"<p>{report.statuses.get('low_quality', 0):,} samples have status "
            "<code>low_quality</code>.</p></div></div>"
        )
    else:
        parts.append(
            _note(
                "No sample failed a quality threshold of verify (none was set, or every "
                "correct sample passed them)."
            )
        )
    correct = report.statuses.get("correct", 0)
    written = report.stages.get("format")
    if correct and written is not None and "verify" in report.stages:
        parts.append(
            _note(
                f"format wrote {written:,} training examples from {correct:,} correct samples"
                + (
                    f": {correct - written:,} left out by its keep policy or its own thresholds."
                    if written < correct
                    else "."
                )
            )
        )
    return _section("Quality-threshold drops", *parts, ident="quality")


def _hist_summary(groups: Sequence[tuple[str, Histogram, str]]) -> str:
    rows = []
    for label, hist, _ in groups:
        if not hist.total:
            continue
        rows.append(
            (
                label,
                f"{hist.total:,}",
                _num(hist.sum / hist.total, 1),
                _num(hist.quantile(0.5)),
                _num(hist.quantile(0.9)),
            )
        )
    return _table(["", "samples", "mean", "median ≈", "90th percentile ≈"], rows) if rows else ""


def _length_section(details: ReportDetails, charts: _Charts) -> str:
    if details.tokens.get("kept") or details.tokens.get("rejected"):
        order = [("kept", KEPT), ("rejected", REJECTED)]
        note = _note(
            "Kept: verdict correct; rejected: any other status. Tokens from the verdict's "
            "quality measures (the server's usage, else counted); steps are paragraphs "
            "(docs/records.md). Bins: one per value up to 16 tokens / 64 steps, then four "
            "per doubling; the median and 90th percentile are the lower edges of their bins."
        )
    elif details.tokens.get("unverified"):
        order = [("unverified", OTHER)]
        note = _note(
            "These samples are not verified, so kept and rejected cannot be told apart.",
            "lacks",
        )
    elif details.tokens.get("examples"):
        order = [("examples", KEPT)]
        note = _note(
            "Training examples hold only kept samples (the assistant turn is measured): "
            "rejected samples are not in this input.",
            "lacks",
        )
    else:
        return _section(
            "Completion length and reasoning steps",
            _note("This input has no completions (it holds problems only).", "lacks"),
            ident="lengths",
        )
    order = [(label, color) for label, color in order if label in details.tokens]
    tokens = [(label, details.tokens[label], color) for label, color in order]
    steps = [(label, details.steps[label], color) for label, color in order]
    body = (
        '<div class="grid2"><div>'
        + _histogram_chart(
            charts,
            "tokens",
            "Completion tokens",
            "completion tokens (log scale)",
            tokens,
            log_x=True,
        )
        + "<h3>Completion tokens</h3>"
        + _hist_summary(tokens)
        + "</div><div>"
        + _histogram_chart(charts, "steps", "Reasoning steps", "steps", steps, log_x=False)
        + "<h3>Reasoning steps</h3>"
        + _hist_summary(steps)
        + "</div></div>"
    )
    return _section("Completion length and reasoning steps", body, note, ident="lengths")


def _timing_section(report: Report, details: ReportDetails, charts: _Charts) -> str:
    parts = []
    if report.elapsed is not None and details.stages:
        rows = []
        stages = dict(details.stages)
        if "verified" in stages:
            stages["verify"] = stages.pop("verified")
        for stage in ("collect", "generate", "verify", "format"):
            timing = stages.get(stage)
            if timing is not None:
                rows.append((_STAGE_NAMES[stage], timing.first, timing.last, timing.records))
        parts.append(
            '<div class="charts">'
            + _timeline_chart(charts, rows)
            + "<div>"
            + _table(
                ["stage", "records", "first out (s)", "last out (s)", "records/s"],
                [
                    (
                        name,
                        f"{count:,}",
                        f"{first:.2f}",
                        f"{last:.2f}",
                        _num(count / (last - first), 1) if last > first else "\u2013",
                    )
                    for name, first, last, count in rows
                ],
            )
            + f"<p>The run took {report.elapsed:.2f} s.</p></div></div>"
        )
        if report.resumed.get("verified_kept") or report.resumed.get("reused_from_journal"):
            r = report.resumed
            parts.append(
                _note(
                    f"Resumed: {r.get('verified_kept', 0):,} verified samples kept from an "
                    f"earlier attempt, {r.get('reused_from_journal', 0):,} samples reused from "
                    "the generation journal (their stage times are not in this attempt's)."
                )
            )
    else:
        parts.append(
            _note(
                "This input carries no stage timings (sfstream run measures them as it runs).",
                "lacks",
            )
        )
    t = details.test_time
    if t.get("cases"):
        parts.append(
            "<h3>Sandbox time of code tests</h3>"
            + _table(
                ["samples", "test cases", "wall (s)", "CPU (s)", "mean wall per case (ms)"],
                [
                    (
                        f"{int(t['samples']):,}",
                        f"{int(t['cases']):,}",
                        f"{t['wall_s']:.2f}",
                        f"{t.get('cpu_s', 0.0):.2f}",
                        f"{1000 * t['wall_s'] / t['cases']:.1f}",
                    )
                ],
            )
        )
    if report.tokens:
        parts.append(
            "<h3>Tokens reported by the server</h3>"
            + _table(["", "tokens"], [(k, f"{v:,}") for k, v in report.tokens.items()])
        )
    return _section("Timings", *parts, ident="timings")


def _shown(item: Shown, group: str) -> str:
    cls = {"kept": "kept", "examples": "kept", "rejected": "rejected"}.get(group, "other")
    label = item.status or ("example" if group == "examples" else "not verified")
    name = item.id + (
        f" #{item.sample_index}" if item.sample_index is not None and "#" not in item.id else ""
    )
    facts: list[tuple[str, Any]] = [("source", f"{item.source} ({item.domain})")]
    if item.status is not None:
        facts.append(("status", item.status))
    if item.correct is not None and group != "examples":
        facts.append(("correct", "yes" if item.correct else "no"))
    if item.total is not None:
        facts.append(("tests passed", f"{item.passed} of {item.total}"))
    if item.detail:
        facts.append(("detail", item.detail))
    facts.append(("tokens / steps", f"{item.tokens} / {item.steps}"))
    verdict = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
    body = [f'<dl class="verdict">{verdict}</dl>']
    if item.extracted is not None:
        body.append(f"<h3>Extracted answer</h3><pre>{_e(item.extracted)}</pre>")
    if item.reasoning:
        body.append(f"<h3>Reasoning</h3><pre>{_e(item.reasoning)}</pre>")
    body.append(f"<h3>Completion</h3><pre>{_e(item.completion)}</pre>")
    return (
        f'<details><summary><span class="tag {cls}">{_e(label)}</span> {_e(name)}</summary>'
        + "".join(body)
        + "</details>"
    )


def _samples_section(details: ReportDetails) -> str:
    parts = []
    for group, title in (
        ("kept", "Kept (correct)"),
        ("rejected", "Rejected"),
        ("unverified", "Samples (not verified)"),
        ("examples", "Training examples"),
    ):
        items = details.shown_of(group)
        if items:
            parts.append(f"<h3>{_e(title)}</h3>" + "".join(_shown(i, group) for i in items))
    if not parts:
        return _section(
            "Sample completions", _note("This input has no completions.", "lacks"), ident="samples"
        )
    parts.insert(
        0,
        _note(
            f"Up to {details.shown} of each kind, drawn uniformly from the stream "
            "(reservoir sampling); long texts are cut in the middle."
        ),
    )
    return _section("Sample completions", *parts, ident="samples")


def _input_section(report: Report, details: ReportDetails, what: str) -> str:
    kinds = details.kinds
    names = [
        ("problem", "problems"),
        ("sample", "samples"),
        ("verified", "verified samples"),
        ("example", "training examples"),
    ]
    have = [f"{kinds[k]:,} {label}" for k, label in names if kinds.get(k)]
    lacks = []
    if not kinds.get("verified"):
        lacks.append("verdicts (pass rates, pass@k, statuses, kept against rejected)")
    if report.elapsed is None:
        lacks.append("stage timings")
    if not (kinds.get("sample") or kinds.get("verified") or kinds.get("example")):
        lacks.append("completions")
    text = f"{what} holds " + (", ".join(have) if have else "no records") + "."
    parts = [f"<p>{_e(text)}</p>"]
    if report.skipped_lines:
        parts.append(_note(f"{report.skipped_lines:,} malformed input lines were skipped."))
    if lacks:
        parts.append(_note("It lacks " + "; ".join(lacks) + ".", "lacks"))
    if details.problem_groups and not details.problems:
        groups = details.problem_groups
        by_source: dict[str, int] = {}
        for (source, _, _), count in groups.items():
            by_source[source] = by_source.get(source, 0) + count
        parts.append(
            "<h3>Problems by source</h3>"
            + _table(["source", "problems"], [(s, f"{c:,}") for s, c in sorted(by_source.items())])
        )
    return _section("What this report is made from", *parts, ident="input")


def render_html(report: Report, *, title: str = "sfstream report", what: str = "The run") -> str:
    """The report as one self-contained HTML page.

    Args:
        report: The counts, with ``report.details`` filled as records passed.
        title: The page's title.
        what: What the records are, for the sentence saying what the page is made from.
    """
    details = report.details or ReportDetails()
    charts = _Charts()
    sections = [
        _input_section(report, details, what),
        _pass_section(report, details, charts),
        _verdict_section(report, charts),
        _quality_section(report, details, charts),
        _length_section(details, charts),
        _timing_section(report, details, charts),
        _samples_section(details),
    ]
    if charts.missing is not None:
        sections.insert(
            0,
            _section(
                "Charts",
                _note(
                    "The charts need matplotlib, which is not installed "
                    "(pip install 'sfstream[report]'); the tables below hold the same numbers.",
                    "lacks",
                ),
                ident="charts",
            ),
        )
    subtitle = f"sfstream {__version__}"
    template = Template(resources.files("sfstream").joinpath("data/report.html").read_text("utf-8"))
    return template.substitute(title=_e(title), subtitle=_e(subtitle), body="\n".join(sections))


def write_html(report: Report, path: str | os.PathLike[str], **options: Any) -> Path:
    """Writes :func:`render_html` to ``path`` (through a temporary file, renamed when done)."""
    target = Path(path)
    text = render_html(report, **options)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    return target
