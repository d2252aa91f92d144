"""``sfstream run`` in bounded memory: what it keeps per problem is dropped once the problem is
done, its report still counts distinct problems exactly, and its resident memory does not grow
with the number of problems (a structural check on 20,000 problems; the million-problem curve
is in ``benches/bench_scale.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from arithmetic_server import respond as arithmetic_respond
from arithmetic_server import write_problems
from instant_fake_server import InstantFakeServer
from memory_sampler import check_examples, sample_run
from server_process import server_process
from sfstream.format import FormatConfig
from sfstream.generate import GenerateConfig
from sfstream.records import Problem, Sample, Verdict
from sfstream.report import Report
from sfstream.runner import RunConfig, _ProblemCounts, run

TESTS = Path(__file__).resolve().parent


def _problem(ident: str, source: str = "s", n: int | None = None) -> Problem:
    extra = {"generation": {"n": n}} if n is not None else {}
    return Problem(id=ident, domain="math", source=source, problem="p", answer="1", extra=extra)


def _verified(problem: Problem, index: int, correct: bool) -> Sample:
    verdict = Verdict(status="correct" if correct else "wrong_answer", correct=correct)
    return Sample(
        id=problem.id,
        domain=problem.domain,
        source=problem.source,
        problem=problem.problem,
        answer=problem.answer,
        sample_index=index,
        verdict=verdict,
    )


def test_problem_counts_forget_each_problem_when_its_samples_are_in() -> None:
    report = Report(problem_ids=False)
    counts = _ProblemCounts(report, GenerateConfig(base_url="http://x/v1", model="m", n=2))
    a, b, c = _problem("a"), _problem("b", "t"), _problem("c", n=3)
    counts.collected(a)
    counts.verified(_verified(a, 0, False))
    assert "a" in counts.open
    counts.verified(_verified(a, 1, True))
    assert "a" not in counts.open  # both samples in: forgotten
    # Samples kept by an earlier attempt of the run may pass before collect reads the problem.
    counts.verified(_verified(b, 1, False))
    counts.verified(_verified(b, 0, False))
    counts.collected(b)
    assert "b" not in counts.open
    counts.collected(c)  # its own generation.n: three samples
    for index in range(3):
        assert "c" in counts.open
        counts.verified(_verified(c, index, True))
    assert counts.open == {}
    assert report.by_source["s"].to_dict()["problems"] == 2
    assert report.by_source["s"].to_dict()["problems_solved"] == 2
    assert report.by_source["t"].to_dict()["problems"] == 1
    assert report.by_source["t"].to_dict()["problems_solved"] == 0
    assert report.by_domain["math"].to_dict()["problems"] == 3
    assert report.by_domain["math"].to_dict()["problems_solved"] == 2


def test_replay_problems_are_kept_to_the_end() -> None:
    # The replay backend has what was recorded: the count is not known in advance.
    report = Report(problem_ids=False)
    counts = _ProblemCounts(report, GenerateConfig(backend="replay", n=1))
    p = _problem("a")
    counts.collected(p)
    counts.verified(_verified(p, 0, True))
    counts.verified(_verified(p, 1, True))
    assert "a" in counts.open
    assert report.by_source["s"].to_dict()["problems"] == 1
    assert report.by_source["s"].to_dict()["problems_solved"] == 1


@pytest.fixture
def mixed_server() -> Iterator[InstantFakeServer]:
    """Right for sample 1 of each problem and for sample 0 of every third: some problems are
    solved by one sample, some by two."""

    def respond(body: dict[str, Any], index: int) -> tuple[str, str]:
        text, finish = arithmetic_respond(body, index)
        content = str(body["messages"][-1]["content"])
        number = int(content.split("Compute ", 1)[1].split(" ", 1)[0])
        if index == 1 or (index == 0 and number % 3 == 0):
            return text, finish
        return "The answer is \\boxed{-1}.", "stop"

    with InstantFakeServer(respond) as server:
        yield server


def _mixed_run(
    server: InstantFakeServer, tmp_path: Path, count: int, format: FormatConfig | None = None
) -> RunConfig:
    """A run of ``count`` problems, 3 samples each, against ``server``, into tmp_path/out."""
    return RunConfig(
        sources=(str(write_problems(tmp_path / "problems.jsonl", count)),),
        generate=GenerateConfig(base_url=server.base_url, model="fake", n=3),
        format=format or FormatConfig(),
        out=tmp_path / "out",
        progress=False,
    )


def test_run_report_counts_distinct_problems_as_stats_does(
    mixed_server: InstantFakeServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    report = run(_mixed_run(mixed_server, tmp_path, 300))
    # The same counts from the verified file, with every id kept (as sfstream stats does).
    reference = Report()
    for line in (out / "verified.jsonl").read_bytes().splitlines():
        reference.observe_any(Sample.from_dict(orjson.loads(line)))
    assert report.to_dict()["by_source"] == reference.to_dict()["by_source"]
    assert report.to_dict()["by_domain"] == reference.to_dict()["by_domain"]
    rate = report.to_dict()["by_source"]["arith"]
    assert rate["verified"] == 900 and rate["problems"] == 300
    assert rate["problems_solved"] == 300 and 300 < rate["correct"] < 900


@pytest.fixture
def arithmetic_server() -> Iterator[str]:
    with server_process(TESTS / "arithmetic_server.py") as url:
        yield url


@pytest.mark.timeout(240)
def test_run_memory_does_not_grow_with_the_problems(arithmetic_server: str, tmp_path: Path) -> None:
    count = 20_000
    problems = write_problems(tmp_path / "problems.jsonl", count)
    measured = sample_run(problems, arithmetic_server, tmp_path / "out", interval=0.1)
    check_examples(measured.output, count)
    sampler = measured.sampler
    # Start-up (imports, first buffers) is over after the first tenth.
    first = sampler.between(count // 10, count // 2)
    second = sampler.between(count // 2, count)
    assert len(first) >= 5 and len(second) >= 5, "too few readings"
    early, late = sampler.peak("run", first), sampler.peak("run", second)
    # Before the fix the run kept ~700 bytes per problem: 7 MB over the second half here.
    assert late <= early + 3 * 2**20, (early / 2**20, late / 2**20)
    assert sampler.peak("run") < 300 * 2**20


@pytest.mark.anyio
async def test_format_writes_a_kept_example_when_its_problem_is_done() -> None:
    # The input stops after problem a's last sample until a's example has come out: a stage
    # holding examples to the end of the input would wait forever.
    import anyio
    from sfstream.format import FormatConfig, format_stage
    from sfstream.pipeline import open_pipeline

    a, b = _problem("a"), _problem("b")
    emitted = anyio.Event()

    async def source() -> Any:
        yield _verified(a, 0, False)
        yield _verified(a, 2, True)
        yield _verified(a, 1, True)
        await emitted.wait()
        yield _verified(b, 0, True)

    # A problem is done when its 3 samples have come (b's group stays short: decided at the end).
    stage = format_stage(FormatConfig(keep="first", samples_per_problem=3))
    got = []
    with anyio.fail_after(10):
        async with open_pipeline(source(), [stage]) as examples:
            async for example in examples:
                got.append(example.id)
                emitted.set()
    assert got == ["a#1", "b#0"]


def test_run_keep_first_writes_the_first_correct_sample_of_each_problem(
    mixed_server: InstantFakeServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run(_mixed_run(mixed_server, tmp_path, 200, FormatConfig(keep="first")))
    first: dict[str, int] = {}
    for line in (out / "verified.jsonl").read_bytes().splitlines():
        row = orjson.loads(line)
        if row["verdict"]["correct"]:
            first[row["id"]] = min(first.get(row["id"], 3), row["sample_index"])
    ids = [orjson.loads(line)["id"] for line in (out / "train.jsonl").read_bytes().splitlines()]
    assert sorted(ids) == sorted(f"{k}#{v}" for k, v in first.items())
    assert len(first) == 200 and 0 < sum(v == 0 for v in first.values()) < 200
