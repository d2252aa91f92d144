"""Test cases per second: sfstream.run_tests against a plain subprocess-per-test harness.

Three workloads, each run by both harnesses at the same concurrency (2 threads), interleaved in
small slices for 3 rounds in one run: a minimal stdin/stdout program (the harness's own
overhead), real LiveCodeBench programs on their public stdin/stdout tests, and HumanEval's
asserts. Median rates and the median ratio go to benchmark.extra_info and are printed. Every
round asserts both harnesses' verdicts; never a speed ratio.
"""

from __future__ import annotations

import gzip
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import sfstream

THREADS = 2
SOLUTIONS = 16
CASES = 25
GOOD = "a, b = map(int, input().split())\nprint(a + b)\n"
BAD = "a, b = map(int, input().split())\nprint(a - b)\n"
TESTS = {
    "inputs": [f"{i} {2 * i}\n" for i in range(CASES)],
    "outputs": [f"{3 * i}\n" for i in range(CASES)],
}
PROGRAMS = [GOOD if i % 4 else BAD for i in range(SOLUTIONS)]
EXPECTED = [p == GOOD for p in PROGRAMS]


def plain_harness(code: str) -> bool:
    """How users write it: a fresh interpreter per test case. Like sfstream_harness it runs
    every case, so both do the same work for a wrong program."""
    ok = True
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "solution.py"
        path.write_text(code)
        for inp, out in zip(TESTS["inputs"], TESTS["outputs"], strict=True):
            r = subprocess.run(
                [sys.executable, str(path)], input=inp, capture_output=True, text=True, timeout=4
            )
            ok = ok and r.returncode == 0 and r.stdout.strip() == out.strip()
    return ok


def sfstream_harness(code: str) -> bool:
    return sfstream.run_tests(code, TESTS, stop_on_first_failure=False).correct


ROUNDS = 3


def timed(check: Any, items: list[Any]) -> tuple[float, list[bool]]:
    """Seconds to check `items` at THREADS threads, and the verdicts."""
    start = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        verdicts = list(pool.map(check, items))
    return time.perf_counter() - start, verdicts


def compare(
    benchmark: Any, ours: Any, plain: Any, items: list[Any], per_item: int, expected: list[bool]
) -> dict[str, Any]:
    """Times both harnesses on the same items in one run. The machine's speed drifts within
    seconds, so each round alternates them in slices of 2 x THREADS items (which goes first
    alternates too) and sums each one's time; ROUNDS rounds give the median rates and ratio.
    Every round checks both harnesses' verdicts."""
    timed(ours, items[:THREADS])  # start the fork servers outside the timing
    rounds: list[tuple[float, float]] = []
    step = 2 * THREADS

    def one_round() -> None:
        spent = {"plain": 0.0, "ours": 0.0}
        verdicts: dict[str, list[bool]] = {"plain": [], "ours": []}
        for n, start in enumerate(range(0, len(items), step)):
            chunk = items[start : start + step]
            order = [("plain", plain), ("ours", ours)]
            for name, check in order if n % 2 == 0 else order[::-1]:
                seconds, got = timed(check, chunk)
                spent[name] += seconds
                verdicts[name].extend(got)
        assert verdicts["plain"] == expected, verdicts["plain"]
        assert verdicts["ours"] == expected, verdicts["ours"]
        cases = len(items) * per_item
        rounds.append((cases / spent["plain"], cases / spent["ours"]))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    ratios = sorted(r[1] / r[0] for r in rounds)
    result = {
        "plain_per_s": round(statistics.median(r[0] for r in rounds), 1),
        "sfstream_per_s": round(statistics.median(r[1] for r in rounds), 1),
        "ratio": round(statistics.median(ratios), 2),
        "ratios": [round(r, 2) for r in ratios],
    }
    benchmark.extra_info.update(result)
    return result


def test_bench_sandbox_vs_plain_subprocess(benchmark: Any) -> None:
    """stdin/stdout tests: 16 solutions (4 wrong) x 25 cases, all cases run."""
    r = compare(benchmark, sfstream_harness, plain_harness, PROGRAMS, CASES, EXPECTED)
    print(
        f"\nsandbox: sfstream {r['sfstream_per_s']:.0f} tests/s, plain subprocess "
        f"{r['plain_per_s']:.0f} tests/s, ratio {r['ratio']:.1f}x (median of {r['ratios']}, "
        f"{THREADS} threads)"
    )


def same_output(got: str, expected: str) -> bool:
    """What a careful plain harness compares: lines without trailing whitespace."""
    lines = [line.rstrip() for line in got.rstrip().splitlines()]
    return lines == [line.rstrip() for line in expected.rstrip().splitlines()]


def livecodebench() -> list[tuple[str, dict[str, Any]]]:
    """o1-mini's LiveCodeBench programs recorded as passing, for stdin/stdout problems, with
    the public tests (76 programs, 214 test cases)."""
    import sandbox_real_data as rd

    data = Path(__file__).resolve().parents[2] / "shared" / "data"
    return [
        (code, tests)
        for _, code, tests, passed in rd.livecodebench_o1mini(data)
        if passed and "fn_name" not in tests
    ]


def test_bench_livecodebench_vs_plain_subprocess(benchmark: Any) -> None:
    solutions = livecodebench()
    cases = sum(len(t["inputs"]) for _, t in solutions)

    def plain(solution: tuple[str, dict[str, Any]]) -> bool:
        code, tests = solution
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "solution.py"
            path.write_text(code)
            ok = True
            for inp, out in zip(tests["inputs"], tests["outputs"], strict=True):
                r = subprocess.run(
                    [sys.executable, str(path)],
                    input=inp,
                    capture_output=True,
                    text=True,
                    timeout=10,
                )
                ok = ok and r.returncode == 0 and same_output(r.stdout, out)
        return ok

    def ours(solution: tuple[str, dict[str, Any]]) -> bool:
        code, tests = solution
        return sfstream.run_tests(code, tests, time_limit=10.0, stop_on_first_failure=False).correct

    r = compare(benchmark, ours, plain, solutions, 1, [True] * len(solutions))
    per_case = cases / len(solutions)
    print(
        f"\nLiveCodeBench ({len(solutions)} programs, {cases} cases): sfstream "
        f"{r['sfstream_per_s'] * per_case:.0f} tests/s, plain subprocess "
        f"{r['plain_per_s'] * per_case:.0f} tests/s, ratio {r['ratio']:.1f}x "
        f"(median of {r['ratios']}, {THREADS} threads)"
    )


def humaneval() -> list[tuple[str, str, str]]:
    """HumanEval's canonical solutions with their tests: (program, test code, entry point)."""
    path = Path(__file__).resolve().parents[2] / "shared" / "data" / "humaneval"
    with gzip.open(path / "HumanEval.jsonl.gz", "rt") as f:
        rows = [json.loads(line) for line in f]
    return [(r["prompt"] + r["canonical_solution"], r["test"], r["entry_point"]) for r in rows]


def plain_asserts(problem: tuple[str, str, str]) -> bool:
    """How users write it for HumanEval: program + tests + check() in one fresh interpreter."""
    program, test, entry = problem
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "check.py"
        path.write_text(f"{program}\n{test}\ncheck({entry})\n")
        r = subprocess.run([sys.executable, str(path)], capture_output=True, timeout=10)
    return r.returncode == 0


def sfstream_asserts(problem: tuple[str, str, str]) -> bool:
    program, test, entry = problem
    tests = {"asserts": test, "entry_point": entry}
    return sfstream.run_tests(program, tests, time_limit=10.0).correct


def test_bench_asserts_vs_plain_subprocess(benchmark: Any) -> None:
    """HumanEval-style asserts (program and tests in separate processes, calls between them)
    on the 164 canonical solutions, all of which pass."""
    problems = humaneval()
    r = compare(benchmark, sfstream_asserts, plain_asserts, problems, 1, [True] * len(problems))
    print(
        f"\nasserts (HumanEval, {len(problems)} problems): sfstream "
        f"{r['sfstream_per_s']:.0f}/s, plain subprocess {r['plain_per_s']:.0f}/s, "
        f"ratio {r['ratio']:.1f}x (median of {r['ratios']}, {THREADS} threads)"
    )
