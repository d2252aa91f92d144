"""Samples per second: sfstream.run_tests against a plain subprocess-per-test harness.

Each workload is run by both harnesses at the same concurrency (2 threads), interleaved in
small slices for 3 rounds in one run: a minimal stdin/stdout program with 1, 5 and 25 tests
per sample (the per-sample and per-case overhead of the harness itself), real LiveCodeBench
programs on their public stdin/stdout tests, and HumanEval's asserts. Median rates and the
median ratio go to benchmark.extra_info and are printed, with sfstream's CPU time per sample
(the machine may be shared: CPU time says what the rate would be on idle cores). Every round
asserts both harnesses' verdicts; never a speed ratio.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sfstream
from fork_servers import fork_servers
from public_data import public_data_dir


def public_data() -> Path:
    """The public datasets' folder; the benchmark that needs it is skipped without it."""
    path = public_data_dir()
    if not path.is_dir():
        pytest.skip(f"public datasets not found at {path} (set SFSTREAM_TEST_DATA)")
    return path


THREADS = 2
GOOD = "a, b = map(int, input().split())\nprint(a + b)\n"
BAD = "a, b = map(int, input().split())\nprint(a - b)\n"
# Samples per round for each number of tests per sample (about 100-400 cases a round).
SAMPLES = {1: 128, 5: 48, 25: 16}


def make_tests(n: int) -> dict[str, list[str]]:
    return {
        "inputs": [f"{i} {2 * i + 1}\n" for i in range(n)],
        "outputs": [f"{3 * i + 1}\n" for i in range(n)],
    }


def plain_run(code: str, tests: dict[str, list[str]]) -> bool:
    """How users write it: a fresh interpreter per test case. Like sfstream here it runs every
    case, so both do the same work for a wrong program."""
    ok = True
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "solution.py"
        path.write_text(code)
        for inp, out in zip(tests["inputs"], tests["outputs"], strict=True):
            r = subprocess.run(
                [sys.executable, str(path)], input=inp, capture_output=True, text=True, timeout=4
            )
            ok = ok and r.returncode == 0 and r.stdout.strip() == out.strip()
    return ok


def sfstream_run(code: str, tests: dict[str, list[str]]) -> bool:
    return sfstream.run_tests(code, tests, stop_on_first_failure=False).correct


ROUNDS = 3
SLICES = 8


def sfstream_cpu(servers: list[int]) -> float:
    """CPU seconds used so far by this process and by `servers` with every case they ran."""
    ticks = 0
    for pid in servers:
        fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    own = resource.getrusage(resource.RUSAGE_SELF)
    return ticks / os.sysconf("SC_CLK_TCK") + own.ru_utime + own.ru_stime


class Workers:
    """THREADS worker threads of one harness, kept for a whole benchmark as a pipeline keeps
    its workers (starting a thread pool per slice costs about 0.1 ms per item here, on both
    harnesses alike, which would blur the faster one's rate)."""

    def __init__(self, check: Any) -> None:
        self.check = check
        self.pool = ThreadPoolExecutor(THREADS)

    def timed(self, items: list[Any]) -> tuple[float, list[bool]]:
        """Seconds to check `items` with the THREADS threads, and the verdicts."""
        start = time.perf_counter()
        verdicts = list(self.pool.map(self.check, items))
        return time.perf_counter() - start, verdicts


def compare(
    benchmark: Any, ours: Any, plain: Any, items: list[Any], per_item: int, expected: list[bool]
) -> dict[str, Any]:
    """Times both harnesses on the same items in one run. The machine's speed drifts within
    seconds, so each round alternates them in SLICES slices of the items (at least 2 x THREADS
    items each; which goes first alternates too) and sums each one's time; ROUNDS rounds give
    the median rates and ratio. (Slices of a few items would mostly time the thread handoffs
    around them and the caches the other harness just left cold.)
    Every round checks both harnesses' verdicts. Rates are per item (x per_item for cases)."""
    workers = {"plain": Workers(plain), "ours": Workers(ours)}
    workers["ours"].timed(items[:THREADS])  # start the fork servers outside the timing
    servers = fork_servers()
    rounds: list[tuple[float, float, float]] = []
    step = max(2 * THREADS, len(items) // SLICES)

    def one_round() -> None:
        spent = {"plain": 0.0, "ours": 0.0}
        cpu = 0.0
        verdicts: dict[str, list[bool]] = {"plain": [], "ours": []}
        for n, start in enumerate(range(0, len(items), step)):
            chunk = items[start : start + step]
            order = ["plain", "ours"]
            for name in order if n % 2 == 0 else order[::-1]:
                before = sfstream_cpu(servers) if name == "ours" else 0.0
                seconds, got = workers[name].timed(chunk)
                if name == "ours":
                    cpu += sfstream_cpu(servers) - before
                spent[name] += seconds
                verdicts[name].extend(got)
        assert verdicts["plain"] == expected, verdicts["plain"]
        assert verdicts["ours"] == expected, verdicts["ours"]
        rounds.append((len(items) / spent["plain"], len(items) / spent["ours"], cpu / len(items)))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    for w in workers.values():
        w.pool.shutdown()
    ratios = sorted(r[1] / r[0] for r in rounds)
    result = {
        "plain_per_s": round(statistics.median(r[0] for r in rounds), 1),
        "sfstream_per_s": round(statistics.median(r[1] for r in rounds), 1),
        "plain_cases_per_s": round(statistics.median(r[0] for r in rounds) * per_item, 1),
        "sfstream_cases_per_s": round(statistics.median(r[1] for r in rounds) * per_item, 1),
        "sfstream_cpu_ms_per_item": round(statistics.median(r[2] for r in rounds) * 1e3, 2),
        "ratio": round(statistics.median(ratios), 2),
        "ratios": [round(r, 2) for r in ratios],
    }
    benchmark.extra_info.update(result)
    return result


PER_SAMPLE: dict[int, float] = {}


@pytest.mark.parametrize("tests_per_sample", [1, 5, 25])
def test_bench_samples_vs_plain_subprocess(benchmark: Any, tests_per_sample: int) -> None:
    """stdin/stdout samples with 1, 5 or 25 tests each (a quarter of the programs wrong), all
    tests run."""
    tests = make_tests(tests_per_sample)
    count = SAMPLES[tests_per_sample]
    programs = [GOOD if i % 4 else BAD for i in range(count)]
    items = [(p, tests) for p in programs]
    r = compare(
        benchmark,
        lambda item: sfstream_run(*item),
        lambda item: plain_run(*item),
        items,
        tests_per_sample,
        [p == GOOD for p in programs],
    )
    cpu = r["sfstream_cpu_ms_per_item"]
    PER_SAMPLE[tests_per_sample] = cpu
    line = (
        f"\n{tests_per_sample} test(s) per sample: sfstream {r['sfstream_per_s']:.0f} samples/s "
        f"({r['sfstream_cases_per_s']:.0f} tests/s, {cpu:.2f} ms CPU per sample, "
        f"{2000 / cpu:.0f} samples/s on 2 idle cores), plain subprocess "
        f"{r['plain_per_s']:.1f} samples/s, ratio {r['ratio']:.1f}x (median of {r['ratios']}, "
        f"{THREADS} threads)"
    )
    if tests_per_sample == 25 and 1 in PER_SAMPLE:
        # What a one-test sample costs (CPU) against one case of a 25-test sample.
        overhead = PER_SAMPLE[1] / (PER_SAMPLE[25] / 25)
        benchmark.extra_info["one_test_sample_vs_case"] = round(overhead, 2)
        line += f"; a 1-test sample costs {overhead:.2f}x a case"
    print(line)


def test_bench_one_test_sample_against_a_case(benchmark: Any) -> None:
    """What a sample with one test costs against one case of a sample with 25 (the per-sample
    overhead): both run by sfstream at 2 threads, 50 cases a slice either way, alternating
    within each round; by CPU time and by wall time."""
    one = [(GOOD if i % 4 else BAD, make_tests(1)) for i in range(200)]
    many = [(GOOD if i % 4 else BAD, make_tests(25)) for i in range(8)]

    def check(item: tuple[str, dict[str, list[str]]]) -> bool:
        return sfstream_run(*item)

    workers = Workers(check)
    workers.timed(one[:THREADS])
    servers = fork_servers()
    rounds: list[tuple[float, float]] = []

    def one_round() -> None:
        wall = {"one": 0.0, "many": 0.0}
        cpu = {"one": 0.0, "many": 0.0}
        for n in range(4):
            order = [("one", one[50 * n : 50 * n + 50]), ("many", many[2 * n : 2 * n + 2])]
            for name, items in order if n % 2 == 0 else order[::-1]:
                before = sfstream_cpu(servers)
                seconds, got = workers.timed(items)
                cpu[name] += sfstream_cpu(servers) - before
                wall[name] += seconds
                assert got == [p == GOOD for p, _ in items], (name, got)
        rounds.append((cpu["one"] / cpu["many"], wall["one"] / wall["many"]))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    workers.pool.shutdown()
    by_cpu = statistics.median(r[0] for r in rounds)
    by_wall = statistics.median(r[1] for r in rounds)
    benchmark.extra_info.update(
        {"sample_vs_case_cpu": round(by_cpu, 2), "sample_vs_case_wall": round(by_wall, 2)}
    )
    print(
        f"\na one-test sample costs {by_cpu:.2f}x a case of a 25-test sample in CPU time "
        f"({by_wall:.2f}x in wall time; {THREADS} threads, median of {ROUNDS} rounds)"
    )


def same_output(got: str, expected: str) -> bool:
    """What a careful plain harness compares: lines without trailing whitespace."""
    lines = [line.rstrip() for line in got.rstrip().splitlines()]
    return lines == [line.rstrip() for line in expected.rstrip().splitlines()]


def livecodebench() -> list[tuple[str, dict[str, Any]]]:
    """o1-mini's LiveCodeBench programs recorded as passing, for stdin/stdout problems, with
    the public tests (76 programs, 214 test cases)."""
    import sandbox_real_data as rd

    data = public_data()
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
    path = public_data() / "humaneval"
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
