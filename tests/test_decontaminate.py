"""Decontamination against evaluation benchmarks: the rule, real overlaps, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from sfstream import _core
from sfstream.collect import benchmark_index, iter_problems
from sfstream.collect.decontaminate import BenchmarkIndex, decontaminate
from sfstream.errors import ConfigError
from sfstream.records import Problem

SFSTREAM = [sys.executable, "-m", "sfstream"]

LONG = (
    "Let $x$ and $y$ be positive real numbers such that $\\dfrac{1}{x} + \\dfrac{1}{y} = 1$. "
    "Find the minimum value of $x + 4y$ over all such pairs."
)


def problem(ident: str, source: str, text: str) -> Problem:
    return Problem(id=ident, domain="math", source=source, problem=text, answer="0")


def test_normalisation_folds_case_punctuation_latex_and_space() -> None:
    assert _core.ngram_words("Find  $\\left(\\frac{1}{2}\\right)^{2}$, THEN\tstop.") == [
        "find",
        "frac",
        "1",
        "2",
        "2",
        "then",
        "stop",
    ]
    assert _core.ngram_words("\\dfrac{a}{b}") == _core.ngram_words("\\frac a b")
    assert _core.ngram_hashes("A, b; c!", 2) == _core.ngram_hashes("a b c", 2)
    assert len(_core.ngram_hashes("a b c a b", 2)) == 3
    assert _core.ngram_hashes("a b", 3) == []


def test_reformatted_copy_is_flagged_and_unrelated_text_is_not() -> None:
    index = BenchmarkIndex.from_problems([problem("bench/test/0", "math500", LONG)])
    copy = problem(
        "mine/0",
        "mine",
        "Let x and y be positive real numbers such that 1/x + 1/y = 1. "
        "Find the MINIMUM value of x + 4y over all such pairs.",
    )
    # `\dfrac{1}{x}` and `1/x` differ as words (frac 1 x / 1 x): the copy still shares
    # the n-grams of its other 19 words in a row.
    other = problem("mine/1", "mine", "A train leaves a station at noon " * 3)
    short = problem("mine/2", "mine", "Find the minimum value")
    flags = index.check([copy, other, short])
    assert flags[1] is None and flags[2] is None
    found = flags[0]
    assert found is not None
    assert (found["benchmark"], found["id"], found["n"]) == ("math500", "bench/test/0", 13)
    assert 0 < found["shared"] and 0 < found["share"] <= 1


def test_a_problem_is_not_compared_with_its_own_benchmark() -> None:
    index = BenchmarkIndex.from_problems([problem("math500/test/0", "math500", LONG)])
    same_source = problem("math500/test/0", "math500", LONG)
    other_source = problem("math/test/7", "math", LONG)
    assert index.check([same_source, other_source])[0] is None
    found = index.check([other_source])[0]
    assert found is not None and found["share"] == 1.0


def test_flag_and_drop_modes() -> None:
    index = BenchmarkIndex.from_problems([problem("b/0", "math500", LONG)])
    stream = [problem("m/0", "mine", LONG), problem("m/1", "mine", "unrelated " * 20)]
    flagged = list(decontaminate(stream, index, "flag"))
    assert [p.id for p in flagged] == ["m/0", "m/1"]
    assert flagged[0].meta["contamination"]["benchmark"] == "math500"
    assert "contamination" not in flagged[1].meta
    assert [p.id for p in decontaminate(stream, index, "drop")] == ["m/1"]


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="decontaminate must be one of"):
        iter_problems("sample", decontaminate="remove")
    with pytest.raises(ConfigError, match="positive integer"):
        iter_problems("sample", decontaminate="flag", decontaminate_ngram=0)
    # An n-gram size without the check it sizes is a mistake, not something to ignore.
    with pytest.raises(ConfigError, match="decontaminate is not"):
        iter_problems("sample", decontaminate_ngram=8)


# ---------------------------------------------------------------------------------------------
# real data
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def benchmarks(shared_data: Path) -> BenchmarkIndex:
    return benchmark_index(shared_data)


def test_every_benchmark_is_loaded(benchmarks: BenchmarkIndex) -> None:
    names = {bench for bench, _ in benchmarks.docs}
    assert names == {
        "math500",
        "aime24",
        "aime25",
        "amc23",
        "gsm8k",
        "humaneval",
        "mbpp",
        "livecodebench",
    }


def test_math_test_problems_in_math500_are_caught(
    shared_data: Path, benchmarks: BenchmarkIndex
) -> None:
    m500 = {p.problem: p.id for p in iter_problems("math500", data_dir=shared_data)}
    math_test = list(iter_problems("math", split="test", data_dir=shared_data))
    copies = [p for p in math_test if p.problem in m500]
    assert len(copies) >= 450  # MATH500 is a subset of MATH test
    flags = benchmarks.check(copies)
    long_enough = [
        (p, f)
        for p, f in zip(copies, flags, strict=True)
        if len(_core.ngram_words(p.problem)) >= 13
    ]
    assert len(long_enough) >= 400
    for p, found in long_enough:
        assert found is not None, p.id
        # The best match is the MATH500 copy itself (or a benchmark problem with the same text).
        assert found["share"] == 1.0, (p.id, found)
        if found["benchmark"] == "math500":
            assert found["id"] == m500[p.problem]
    # A problem of MATH test that is not in MATH500 is flagged only when it really shares a
    # run of 13 words with a benchmark problem: templated variants ("Consider the geometric
    # sequence ... What is the eighth term of the sequence? Express your answer as a common
    # fraction.") are, about 2% of them.
    rest = [p for p in math_test if p.problem not in m500]
    rest_flagged = [(p, f) for p, f in zip(rest, benchmarks.check(rest), strict=True) if f]
    assert len(rest_flagged) < len(rest) // 20
    texts = _benchmark_texts(benchmarks, shared_data)
    for p, found in rest_flagged:
        assert _shares_a_run(p.problem, texts[found["id"]], 13), (p.id, found)


def test_math500_is_not_contaminated_by_itself(
    shared_data: Path, benchmarks: BenchmarkIndex
) -> None:
    m500 = list(iter_problems("math500", data_dir=shared_data))
    flags = benchmarks.check(m500)
    assert all(f is None or f["benchmark"] != "math500" for f in flags)


def _benchmark_texts(benchmarks: BenchmarkIndex, data: Path) -> dict[str, str]:
    names = {bench for bench, _ in benchmarks.docs}
    return {
        p.id: p.problem for name in names for p in iter_problems(name, split="test", data_dir=data)
    }


def _shares_a_run(a: str, b: str, n: int) -> bool:
    wa, wb = _core.ngram_words(a), _core.ngram_words(b)
    runs = {tuple(wb[i : i + n]) for i in range(len(wb) - n + 1)}
    return any(tuple(wa[i : i + n]) in runs for i in range(len(wa) - n + 1))


def test_gsm8k_train_is_flagged_only_for_real_duplicates(
    shared_data: Path, benchmarks: BenchmarkIndex
) -> None:
    test = {p.id: p.problem for p in iter_problems("gsm8k", split="test", data_dir=shared_data)}
    train = list(iter_problems("gsm8k", split="train", data_dir=shared_data))
    assert len(train) > 7000
    # gsm8k train is read as source "gsm8k", the benchmark's own name: compare it as a
    # foreign file would be.
    foreign = [problem(p.id, "gsm8k-train", p.problem) for p in train]
    flagged = [
        (p, f)
        for p, f in zip(foreign, benchmarks.check(foreign), strict=True)
        if f is not None and f["benchmark"] == "gsm8k"
    ]
    assert len(flagged) < len(train) // 100
    for p, found in flagged:
        assert _shares_a_run(p.problem, test[found["id"]], 13), (p.id, found)


def test_unrelated_problems_are_not_flagged(shared_data: Path, benchmarks: BenchmarkIndex) -> None:
    # Programming statements share no 13 words in a row with a math benchmark.
    math_benches = {"math500", "aime24", "aime25", "amc23", "gsm8k"}
    code = [
        *iter_problems("apps", limit=1000, seed=0, data_dir=shared_data),
        *iter_problems("codeforces", data_dir=shared_data),
        *iter_problems("code_contests", data_dir=shared_data),
    ]
    assert len(code) > 400
    flags = benchmarks.check(code)
    assert [f for f in flags if f is not None and f["benchmark"] in math_benches] == []
    # MATH train is not MATH500, but some of it is templated like it; those few share a
    # real run of 13 words.
    math_train = list(iter_problems("math", split="train", data_dir=shared_data))
    flagged = [(p, f) for p, f in zip(math_train, benchmarks.check(math_train), strict=True) if f]
    assert 0 < len(flagged) < len(math_train) // 20
    texts = _benchmark_texts(benchmarks, shared_data)
    for p, found in flagged:
        assert _shares_a_run(p.problem, texts[found["id"]], 13), (p.id, found)


def _collect(args: list[str], cwd: Path) -> tuple[list[dict[str, Any]], str]:
    proc = subprocess.run(
        [*SFSTREAM, "collect", *args], capture_output=True, cwd=cwd, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr.decode()
    rows = [orjson.loads(x) for x in proc.stdout.splitlines() if x.strip()]
    return rows, proc.stderr.decode()


def test_cli_flag_and_drop(shared_data: Path, tmp_path: Path) -> None:
    base = ["math", "--split", "test", "--data-dir", str(shared_data)]
    plain, _ = _collect(base, tmp_path)
    flagged, _ = _collect([*base, "--decontaminate", "flag"], tmp_path)
    kept, log = _collect([*base, "--decontaminate", "drop"], tmp_path)
    assert [r["id"] for r in flagged] == [r["id"] for r in plain]
    marked = [r for r in flagged if "contamination" in r.get("meta", {})]
    assert len(marked) >= 400
    assert {r["meta"]["contamination"]["benchmark"] for r in marked} >= {"math500"}
    assert [r["id"] for r in kept] == [
        r["id"] for r in flagged if "contamination" not in r.get("meta", {})
    ]
    assert "decontaminate: dropped" in log and "math500" in log
    # A larger n flags no more problems.
    wide, _ = _collect([*base, "--decontaminate", "flag", "--decontaminate-ngram", "30"], tmp_path)
    assert len([r for r in wide if "contamination" in r.get("meta", {})]) <= len(marked)


def test_shipped_index_is_reproduced_by_its_script(shared_data: Path, tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "index.json.gz"
    proc = subprocess.run(
        [
            sys.executable,
            str(root / "scripts" / "build_benchmark_ngrams.py"),
            "--data-dir",
            str(shared_data),
            "--out",
            str(out),
        ],
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    shipped = root / "python" / "sfstream" / "data" / "benchmark_ngrams.json.gz"
    assert out.read_bytes() == shipped.read_bytes()
    assert len(out.read_bytes()) < 3_000_000


def test_shipped_index_flags_like_the_data_directory(
    shared_data: Path, benchmarks: BenchmarkIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SFSTREAM_DATA_DIR", raising=False)
    shipped = benchmark_index()
    assert shipped.docs == benchmarks.docs and shipped.n == 13
    problems = [
        *iter_problems("math", split="test", data_dir=shared_data),
        *iter_problems("sample"),
    ]
    assert shipped.check(problems) == benchmarks.check(problems)
    # Without a data directory, collect uses it.
    flagged = [
        p.id for p in iter_problems("sample", decontaminate="flag") if "contamination" in p.meta
    ]
    kept = {p.id for p in iter_problems("sample", decontaminate="drop")}
    assert flagged and not kept & set(flagged)
    assert len(kept) + len(flagged) == len(list(iter_problems("sample")))


def test_run_flags_with_the_shipped_index(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SFSTREAM_DATA_DIR"}
    proc = subprocess.run(
        [*SFSTREAM, "run", "-q", "--decontaminate", "flag", "--out", str(tmp_path / "out")],
        capture_output=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    out = tmp_path / "out"
    assert 'decontaminate = "flag"' in (out / "config.toml").read_text(encoding="utf-8")
    expected = {
        p.id for p in iter_problems("sample", decontaminate="flag") if "contamination" in p.meta
    }
    rows = [orjson.loads(x) for x in (out / "verified.jsonl").read_bytes().splitlines() if x]
    marked = {r["id"] for r in rows if "contamination" in r["meta"]}
    assert marked and marked <= expected
    assert all(r["id"] in marked for r in rows if r["id"] in expected)
