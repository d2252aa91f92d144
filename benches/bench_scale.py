"""Memory at scale (``make bench``): a million problems through ``sfstream run`` and through the
shell pipe, with a server that answers at once, the resident memory of every process sampled
over time.

The problems are synthetic (``Compute A + B.``, written to a temporary NDJSON file and read by
collect as any run reads its input); ``tests/arithmetic_server.py`` answers each with a worked
solution ending in the right box, in its own process, so generation costs the pipeline only its
own work and every sample verifies as correct. A thread polls ``/proc`` every quarter second
for the RSS of ``sfstream run`` (with every process under it) or of each process of the pipe,
and for the examples written so far. The curve (peak RSS per window of records) goes to
``benchmark.extra_info`` and is printed.

Asserted: every problem comes out as exactly one example; no process goes above 300 MB; and
memory is flat: the peak over the second half of the records is at most the peak over the
first half plus a margin. ``SFSTREAM_BENCH_PROBLEMS`` sets the count (default 1,000,000).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from arithmetic_server import write_problems
from memory_sampler import Measured, check_examples, sample_pipe, sample_run
from server_process import server_process

TESTS = Path(__file__).resolve().parents[1] / "tests"
PROBLEMS = int(os.environ.get("SFSTREAM_BENCH_PROBLEMS", "1000000"))
STEP = max(PROBLEMS // 20, 1)  # a row of the curve every 50,000 records at a million
LIMIT_MB = 300
# Allowed growth of the peak from the first half of the records to the second: collect's
# duplicate check keeps 16 bytes per problem id (16 MB per million problems).
MARGIN_MB = 24


@pytest.fixture(scope="module")
def arithmetic_server() -> Iterator[str]:
    with server_process(TESTS / "arithmetic_server.py") as url:
        yield url


@pytest.fixture(scope="module")
def problems(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_problems(tmp_path_factory.mktemp("scale") / "problems.jsonl", PROBLEMS)


def _table(measured: Measured) -> str:
    roles = list(measured.sampler.roles)
    rows = measured.sampler.curve(STEP, PROBLEMS)
    head = "| records | " + " | ".join(f"{r} RSS (MB)" for r in roles) + " |"
    rule = "|---:|" + "---:|" * len(roles)
    body = [
        f"| {row['records']:,} | " + " | ".join(str(row[r]) for r in roles) + " |" for row in rows
    ]
    return "\n".join([head, rule, *body])


def _check_flat(measured: Measured, info: dict[str, Any]) -> None:
    sampler = measured.sampler
    first = sampler.between(0, PROBLEMS // 2)
    second = sampler.between(PROBLEMS // 2, PROBLEMS)
    assert first and second, "too few readings: the run was faster than the sampling"
    for role in sampler.roles:
        peak = sampler.peak(role) / 2**20
        early, late = sampler.peak(role, first) / 2**20, sampler.peak(role, second) / 2**20
        info[f"{role}_peak_mb"] = round(peak, 1)
        info[f"{role}_peak_first_half_mb"] = round(early, 1)
        info[f"{role}_peak_second_half_mb"] = round(late, 1)
        assert peak < LIMIT_MB, f"{role}: peak RSS {peak:.0f} MB"
        assert late <= early + MARGIN_MB, f"{role}: RSS grew from {early:.0f} to {late:.0f} MB"


def _report(benchmark: Any, name: str, measured: Measured) -> None:
    info: dict[str, Any] = {
        "problems": PROBLEMS,
        "seconds": round(measured.seconds, 1),
        "records_per_s": round(PROBLEMS / measured.seconds),
        "readings": len(measured.sampler.samples),
        "curve_mb": measured.sampler.curve(STEP, PROBLEMS),
    }
    try:
        _check_flat(measured, info)
    finally:
        benchmark.extra_info.update(info)
        print(f"\n{name}: {PROBLEMS:,} problems in {measured.seconds:.0f} s")
        print(_table(measured))
        print(orjson.dumps({k: v for k, v in info.items() if k != "curve_mb"}).decode())


def _measure_once(benchmark: Any, name: str, sample: Callable[[], Measured]) -> Measured:
    """Times ``sample`` once as the benchmark and reports (and checks) its memory curve."""
    measured: list[Measured] = []
    benchmark.pedantic(lambda: measured.append(sample()), rounds=1, iterations=1)
    _report(benchmark, name, measured[0])
    return measured[0]


@pytest.mark.timeout(7200)
def test_run_memory_is_flat(
    arithmetic_server: str, problems: Path, tmp_path: Path, benchmark: Any
) -> None:
    result = _measure_once(
        benchmark,
        "sfstream run",
        lambda: sample_run(problems, arithmetic_server, tmp_path / "out"),
    )
    check_examples(result.output, PROBLEMS)
    report = orjson.loads((tmp_path / "out" / "report.json").read_bytes())
    assert report["statuses"] == {"correct": PROBLEMS}, report["statuses"]
    assert report["stages"]["collect"] == PROBLEMS


@pytest.mark.timeout(7200)
def test_pipe_memory_is_flat(
    arithmetic_server: str, problems: Path, tmp_path: Path, benchmark: Any
) -> None:
    result = _measure_once(
        benchmark,
        "collect | generate | verify | format",
        lambda: sample_pipe(problems, arithmetic_server, tmp_path / "train.jsonl"),
    )
    check_examples(result.output, PROBLEMS)
