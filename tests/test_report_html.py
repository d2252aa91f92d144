"""report.html and ``stats --html``: pass@k against a direct count, bounded histograms, escaping
of untrusted completions, a page that loads nothing, and every stage's output."""

from __future__ import annotations

import html.parser
import itertools
import math
import random
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import orjson
import pytest
from public_data import recorded_math_samples
from sfstream.records import Problem, Sample, Verdict
from sfstream.report import Report
from sfstream.report_details import Histogram, ReportDetails, pass_at_k, pass_at_k_table
from sfstream.report_html import render_html

SFSTREAM = [sys.executable, "-m", "sfstream"]


def sh(args: list[str], *, cwd: Path | None = None, timeout: float = 300) -> bytes:
    proc = subprocess.run(
        SFSTREAM + args, capture_output=True, cwd=cwd, timeout=timeout, check=False
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


def direct_pass_at_k(n: int, c: int, k: int) -> Fraction:
    """Share of the k-subsets of n samples (the first c correct) holding a correct one."""
    subsets = list(itertools.combinations(range(n), k))
    return Fraction(sum(any(i < c for i in s) for s in subsets), len(subsets))


# ---------------------------------------------------------------- pass@k


def test_pass_at_k_equals_the_share_of_k_subsets_with_a_correct_sample() -> None:
    for n in range(1, 10):
        for c in range(n + 1):
            for k in range(1, n + 1):
                # Both sides are the float nearest the exact fraction.
                assert pass_at_k(n, c, k) == float(direct_pass_at_k(n, c, k)), (n, c, k)


def test_pass_at_k_is_exact_where_the_product_formula_rounds() -> None:
    # 1 - C(n-c, k)/C(n, k) far from 0.5 on both sides, at sizes where the binomials overflow
    # a float: the result is the nearest float of the exact value.
    for n, c, k in [(2000, 1, 1), (5000, 3, 7), (5000, 4990, 2500), (100, 50, 50), (10**4, 1, 2)]:
        exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
        assert pass_at_k(n, c, k) == float(exact)
        # Chen et al.'s numerically stable product gives the same to rounding (it needs
        # n - c >= k; below that every k-subset holds a correct sample).
        product = 1.0
        if n - c < k:
            product = 0.0
        for i in range(n - c + 1, n + 1) if n - c >= k else ():
            product *= 1.0 - k / i
        assert pass_at_k(n, c, k) == pytest.approx(1.0 - product, rel=1e-9, abs=1e-15)
    assert pass_at_k(8, 0, 8) == 0.0
    assert pass_at_k(8, 1, 8) == 1.0
    assert pass_at_k(8, 3, 1) == 3 / 8
    for bad in [(3, 4, 1), (3, 1, 0), (3, 1, 4), (0, 0, 1), (3, -1, 1)]:
        with pytest.raises(ValueError):
            pass_at_k(*bad)


def test_pass_at_k_of_recorded_model_outputs(shared_data: Path) -> None:
    samples = recorded_math_samples(shared_data)
    assert len(samples) == 800
    # Samples of a problem arrive anywhere in the stream.
    random.Random(7).shuffle(samples)
    report = Report(details=ReportDetails())
    for sample in samples:
        report.observe("verify", sample)
    details = report.details
    assert details is not None
    assert details.samples_per_problem() == {8: 100}

    # The direct computation: per problem, the share of k-subsets of its 8 graded samples with
    # a correct one, averaged over the problems of each level.
    grades: dict[str, list[bool]] = {}
    levels: dict[str, str] = {}
    for s in samples:
        assert s.verdict is not None
        grades.setdefault(s.id, []).append(s.verdict.correct)
        levels[s.id] = s.meta["level"]
    entries = [(e[0], e[1], e[2]) for e in details.problems.values()]
    for k in (1, 2, 4, 8):
        by_level = pass_at_k_table(entries, [k], lambda g: g[2])
        for level, row in by_level.items():
            ids = [i for i in grades if levels[i] == level]
            want = sum(
                (
                    Fraction(
                        sum(any(combo) for combo in itertools.combinations(grades[i], k)),
                        math.comb(8, k),
                    )
                    for i in ids
                ),
                Fraction(0),
            ) / len(ids)
            assert row.problems == row.problems_at(k) == len(ids)
            assert row.pass_at(k) == pytest.approx(float(want), abs=1e-12)
    overall = pass_at_k_table(entries, [1, 8], lambda g: "all")["all"]
    assert overall.samples == 800 and overall.correct == 728  # the file's own count
    assert overall.pass_at(1) == pytest.approx(728 / 800)
    assert overall.pass_at(8) == sum(any(g) for g in grades.values()) / 100
    assert overall.pass_rate == 728 / 800

    page = render_html(report)
    # The page states pass@1 and pass@8 (the n used) for every level.
    assert "pass@1" in page and "pass@8" in page
    for level in set(levels.values()):
        assert f"<td>{level}</td>" in page


def test_pass_at_k_leaves_out_problems_with_fewer_than_k_samples() -> None:
    rows = pass_at_k_table([(4, 1, "a"), (4, 0, "a"), (2, 2, "a")], [1, 4], lambda g: g)
    row = rows["a"]
    assert row.problems == 3 and row.samples == 10 and row.correct == 3 and row.solved == 2
    assert row.pass_at(1) == pytest.approx((1 / 4 + 0 + 1) / 3)
    assert row.problems_at(4) == 2
    assert row.pass_at(4) == pytest.approx((1 + 0) / 2)


# ---------------------------------------------------------------- histograms


def test_histogram_bins_hold_their_values_and_stay_few() -> None:
    hist = Histogram()
    for value in range(0, 300_000, 7):
        index = hist.bin_of(value)
        low, high = hist.edges(index)
        assert low <= value < high, (value, index, low, high)
        hist.add(value)
    # 16 linear bins, then 4 per doubling from 16 to 300,000 (about 14.2 doublings).
    assert len(hist.counts) <= 16 + 4 * 15
    assert hist.total == len(range(0, 300_000, 7))
    median = hist.quantile(0.5)
    assert median is not None and median <= 150_000 < median * 2 ** (1 / 4) + 1


def test_details_memory_does_not_grow_with_the_samples() -> None:
    details = ReportDetails()
    rng = random.Random(0)
    for i in range(20_000):
        correct = rng.random() < 0.4
        sample = Sample(
            id=f"p/{i % 500}",
            domain="math",
            source="s",
            problem="x",
            answer="1",
            sample_index=i // 500,
            completion="word " * rng.randrange(1, 3000),
            verdict=Verdict(
                correct=correct,
                status="correct" if correct else "wrong_answer",
                quality={"completion_tokens": rng.randrange(1, 60_000), "steps": rng.randrange(90)},
            ),
        )
        details.observe("verify", sample)
    # Per problem one entry, per histogram a bounded number of bins, a few completions shown.
    assert len(details.problems) == 500
    assert all(len(h.counts) <= 16 + 4 * 12 for h in details.tokens.values())
    assert all(len(h.counts) <= 90 for h in details.steps.values())
    assert len(details.shown_of("kept")) == len(details.shown_of("rejected")) == details.shown
    assert details.tokens["kept"].total + details.tokens["rejected"].total == 20_000


# ---------------------------------------------------------------- the page


class _Loads(html.parser.HTMLParser):
    """Everything in a page that a browser would fetch: URLs in src/href-like attributes,
    url() and @import in styles, <link>, <script>, <iframe>, <object>, <embed>."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.tags: set[str] = set()
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag in ("link", "script", "iframe", "object", "embed", "base"):
            self.found.append(f"<{tag}>")
        self._in_style = tag == "style"
        for name, value in attrs:
            value = value or ""
            if name in ("src", "href", "xlink:href", "srcset", "poster", "action", "data"):
                if not value.startswith("#"):
                    self.found.append(f"{name}={value}")
            if name == "style" and re.search(r"url\(|@import", value):
                self.found.append(f"style={value}")
            # Any other attribute naming a web address (XML namespace names are identifiers,
            # never fetched).
            if re.search(r"https?:", value) and not name.startswith("xmlns"):
                self.found.append(f"{name}={value}")

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style and re.search(r"url\(|@import", data):
            self.found.append("style sheet loads something")


def loads_of(page: str) -> list[str]:
    parser = _Loads()
    parser.feed(page)
    return parser.found


HOSTILE = (
    "Let me answer.\n\n</pre></details><script>document.title='pwned'</script>"
    '<img src="https://example.invalid/x.png" onerror="document.title=\'pwned\'">'
    "\n\nTherefore, the answer is \\boxed{2}."
)


def hostile_report() -> Report:
    report = Report(details=ReportDetails())
    problem = Problem(id="t/1", domain="math", source="t", problem="1+1?", answer="2")
    report.observe("collect", problem)
    for index, correct in enumerate((True, False)):
        sample = Sample(
            **{k: getattr(problem, k) for k in ("id", "domain", "source", "problem", "answer")},
            sample_index=index,
            completion=HOSTILE,
            verdict=Verdict(
                correct=correct,
                status="correct" if correct else "wrong_answer",
                extracted="<b>2</b>",
                detail="<script>alert(1)</script>",
            ),
        )
        report.observe("generate", sample)
        report.observe("verify", sample)
    return report


def test_untrusted_completions_are_text_not_markup() -> None:
    page = render_html(hostile_report())
    assert "<script" not in page
    assert "<img" not in page and "<b>2</b>" not in page
    assert "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;" in page
    assert "&lt;b&gt;2&lt;/b&gt;" in page
    assert loads_of(page) == []


def test_names_from_records_are_escaped_in_tables_and_charts() -> None:
    bad = "<script>alert(1)</script> $\\frac{1}{0$ & " + "x" * 80
    report = Report(details=ReportDetails())
    for index, correct in enumerate((True, False)):
        sample = Sample(
            id=bad,
            domain="math",
            source=bad,
            problem="p",
            answer="1",
            meta={"subject": bad, "level": bad},
            sample_index=index,
            completion="x",
            verdict=Verdict(
                correct=correct,
                status="correct" if correct else bad,
                detail=bad,
                quality={"completion_tokens": 10, "steps": 1},
            ),
        )
        report.observe("verify", sample)
        report.low_quality[bad] += 1
    page = render_html(report)
    assert "<script" not in page
    assert page.count("<svg") >= 4  # the charts with those names as labels were drawn
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert loads_of(page) == []


def test_page_without_matplotlib_has_tables_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    page = render_html(hostile_report())
    assert "<svg" not in page
    assert "pip install &#x27;sfstream[report]&#x27;" in page
    assert "<td>wrong_answer</td>" in page and "50.0%" in page


@pytest.mark.parametrize("grades", [(), (True,), (False,), (True, True), (False, False, False)])
def test_page_of_any_mix_of_verdicts(grades: tuple[bool, ...]) -> None:
    report = Report(details=ReportDetails())
    for index, correct in enumerate(grades):
        sample = Sample(
            id="t/1",
            domain="math",
            source="t",
            problem="1+1?",
            answer="2",
            sample_index=index,
            completion="It is 2.\n\nTherefore, the answer is 2.",
            verdict=Verdict(correct=correct, status="correct" if correct else "wrong_answer"),
        )
        report.observe("verify", sample)
    page = render_html(report)
    if not grades:
        assert "no verified samples" in page and "no completions" in page
    else:
        n, c = len(grades), sum(grades)
        assert f"{100 * c / n:.1f}%" in page
        assert f"pass@{n}" in page
        assert ("Kept (correct)" in page) == (c > 0)
        assert ("<h3>Rejected</h3>" in page) == (c < n)


@pytest.fixture(scope="module")
def stages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each stage's output on the bundled sample, and a run's folder."""
    base = tmp_path_factory.mktemp("stages")
    sh(["run", "--out", str(base / "out"), "-q"], cwd=base)
    problems = base / "problems.jsonl"
    problems.write_bytes(sh(["collect", "sample"]))
    samples = base / "samples.jsonl"
    samples.write_bytes(sh(["generate", "--backend", "replay", "-q", "-i", str(problems)]))
    return {
        "out": base / "out",
        "problems": problems,
        "samples": samples,
        "verified": base / "out" / "verified.jsonl",
        "examples": base / "out" / "train.jsonl",
    }


def test_run_writes_a_self_contained_report_page(stages: dict[str, Path]) -> None:
    out = stages["out"]
    page = (out / "report.html").read_text(encoding="utf-8")
    report = orjson.loads((out / "report.json").read_bytes())
    assert report["outputs"]["report_html"] == str((out / "report.html").resolve())
    assert loads_of(page) == []
    assert not re.search(r"<\?xml|<!DOCTYPE svg", page)
    charts = set(re.findall(r'data-chart="([^"]+)"', page))
    assert charts >= {"pass-by-source", "statuses", "tokens", "steps", "timeline"}
    assert page.count("<svg") == len(re.findall(r'data-chart="', page))
    # The pass rate of every source, as report.json has it, and the counts of every status.
    for source, rate in report["by_source"].items():
        assert f"<td>{source}</td>" in page
        assert f"{100 * rate['pass_rate']:.1f}%" in page
    for status, count in report["statuses"].items():
        assert f"<td>{status}</td><td>{count:,}</td>" in page
    for stage in ("collect (problems)", "generate (samples)", "verify (verified samples)"):
        assert stage in page
    assert "Kept (correct)" in page and "Rejected" in page
    assert "pass@1" in page


def test_stats_html_from_each_stage_says_what_the_input_lacks(
    stages: dict[str, Path], tmp_path: Path
) -> None:
    pages = {}
    for name in ("problems", "samples", "verified", "examples"):
        target = tmp_path / f"{name}.html"
        sh(["stats", "-q", "-i", str(stages[name]), "--html", str(target)])
        pages[name] = target.read_text(encoding="utf-8")
        assert loads_of(pages[name]) == [], name
        assert "stage timings" in pages[name]  # none of these files carries them

    assert "103 problems" in pages["problems"]
    assert "no verified samples" in pages["problems"]
    assert "<td>math500</td>" in pages["problems"]
    assert "no completions" in pages["problems"]
    assert "<svg" not in pages["problems"]

    assert "not verified, so kept and rejected cannot be told apart" in pages["samples"]
    assert 'data-chart="tokens"' in pages["samples"]

    verified = pages["verified"]
    assert 'data-chart="pass-by-source"' in verified and "pass@1" in verified
    assert "Kept (correct)" in verified
    report = orjson.loads((stages["out"] / "report.json").read_bytes())
    for rate in report["by_source"].values():
        assert f"{100 * rate['pass_rate']:.1f}%" in verified

    assert "Training examples hold only kept samples" in pages["examples"]
    assert "no verified samples" in pages["examples"]
    assert 'data-chart="tokens"' in pages["examples"]


def test_run_without_matplotlib_still_writes_the_page(tmp_path: Path) -> None:
    # matplotlib made unimportable in the process that runs the pipeline.
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from sfstream.cli import main\n"
        f"main(['run', 'sample', '--limit', '3', '--out', {str(tmp_path / 'out')!r}, '-q'])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, cwd=tmp_path, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr.decode()
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "<svg" not in page
    assert "The charts need matplotlib" in page
    report = orjson.loads((tmp_path / "out" / "report.json").read_bytes())
    for status, count in report["statuses"].items():
        assert f"<td>{status}</td><td>{count:,}</td>" in page
