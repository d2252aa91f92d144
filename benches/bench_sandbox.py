"""Test cases per second: sfstream.run_tests against a plain subprocess-per-test harness.

Both run the same stdin/stdout tests at the same concurrency (2 threads) in one run; the rates
and their ratio go to benchmark.extra_info and are printed. Only the correctness of what is
timed is asserted, never a speed ratio.
"""

from __future__ import annotations

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
    """How users write it: a fresh interpreter per test case."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "solution.py"
        path.write_text(code)
        for inp, out in zip(TESTS["inputs"], TESTS["outputs"], strict=True):
            r = subprocess.run(
                [sys.executable, str(path)], input=inp, capture_output=True, text=True, timeout=4
            )
            if r.returncode != 0 or r.stdout.strip() != out.strip():
                return False
    return True


def sfstream_harness(code: str) -> bool:
    return sfstream.run_tests(code, TESTS, stop_on_first_failure=False).correct


def rate(check: Any) -> tuple[float, list[bool]]:
    start = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        verdicts = list(pool.map(check, PROGRAMS))
    return SOLUTIONS * CASES / (time.perf_counter() - start), verdicts


def test_bench_sandbox_vs_plain_subprocess(benchmark: Any) -> None:
    rate(sfstream_harness)  # start the fork servers outside the timing
    results: dict[str, float] = {}

    def both() -> None:
        plain, plain_verdicts = rate(plain_harness)
        ours, our_verdicts = rate(sfstream_harness)
        assert plain_verdicts == EXPECTED
        assert our_verdicts == EXPECTED
        results.update(plain=plain, sfstream=ours)

    benchmark.pedantic(both, rounds=1, iterations=1)
    ratio = results["sfstream"] / results["plain"]
    benchmark.extra_info.update(
        plain_tests_per_s=round(results["plain"], 1),
        sfstream_tests_per_s=round(results["sfstream"], 1),
        ratio=round(ratio, 2),
    )
    print(
        f"\nsandbox: sfstream {results['sfstream']:.0f} tests/s, plain subprocess "
        f"{results['plain']:.0f} tests/s, ratio {ratio:.1f}x ({THREADS} threads)"
    )
