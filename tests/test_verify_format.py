"""The verify and format stages on the bundled sample's real problems and recorded outputs."""

from __future__ import annotations

import dataclasses
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import orjson
import pytest
import sfstream
from sfstream.format import FormatConfig, format_sample
from sfstream.records import Problem, Sample, Verdict
from sfstream.verify import VerifyConfig, verify_sample
from stage_helpers import aiter_of

DATA = files("sfstream") / "data"


def _lines(name: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in (DATA / name).read_bytes().splitlines() if line]


PROBLEMS = {d["id"]: Problem.from_dict(d) for d in _lines("problems.jsonl")}
RECORDED = _lines("completions.jsonl")


def sample_of(rec: dict[str, Any]) -> Sample:
    problem = PROBLEMS[rec["id"]]
    return Sample(
        **{
            **problem.__dict__,
            "sample_index": rec["sample_index"],
            "model": rec["model"],
            "completion": rec["completion"],
            "reasoning": rec.get("reasoning"),
            "finish_reason": rec.get("finish_reason") or "stop",
            "usage": rec.get("usage"),
        }
    )


def test_recorded_math_outputs_agree_with_their_grades() -> None:
    recs = [
        r
        for r in RECORDED
        if PROBLEMS[r["id"]].domain == "math"
        and r.get("recorded_correct") is not None
        and r.get("finish_reason") != "length"
    ]
    assert len(recs) >= 100
    disagree = []
    for rec in recs:
        verdict = verify_sample(sample_of(rec))
        if verdict.correct != rec["recorded_correct"]:
            disagree.append(
                (
                    rec["id"],
                    rec["model"],
                    verdict.status,
                    verdict.extracted,
                    PROBLEMS[rec["id"]].answer,
                )
            )
    # Upstream grades come from another checker; a few disagreements are that checker's.
    assert len(disagree) <= len(recs) * 0.05, disagree


def test_truncated_outputs_are_marked_not_judged() -> None:
    recs = [r for r in RECORDED if r.get("finish_reason") == "length"]
    assert recs, "the sample ships truncated long chains"
    for rec in recs:
        verdict = verify_sample(sample_of(rec))
        assert (verdict.correct, verdict.status) == (False, "truncated")


def test_recorded_code_outputs_agree_with_their_grades() -> None:
    recs = [r for r in RECORDED if PROBLEMS[r["id"]].domain == "code"]
    assert len(recs) >= 20
    config = VerifyConfig(time_limit=6.0)
    results = [(rec, verify_sample(sample_of(rec), config)) for rec in recs]
    disagree = [
        (rec["id"], v.status, v.detail)
        for rec, v in results
        if v.correct != rec["recorded_correct"]
    ]
    assert not disagree
    statuses = {v.status for _, v in results}
    assert "correct" in statuses and statuses - {"correct"}


def test_generation_errors_become_error_verdicts() -> None:
    problem = next(iter(PROBLEMS.values()))
    sample = Sample(
        **{
            **problem.__dict__,
            "completion": "",
            "finish_reason": "error",
            "extra": {"error": "prompt too long"},
        }
    )
    verdict = verify_sample(sample)
    assert verdict.quality is not None and verdict.quality["chars"] == 0
    assert dataclasses.replace(verdict, quality=None) == Verdict(
        correct=False, status="error", detail="prompt too long"
    )


def test_no_code_verdict() -> None:
    problem = next(p for p in PROBLEMS.values() if p.domain == "code")
    sample = Sample(**{**problem.__dict__, "completion": "I cannot write code today."})
    verdict = verify_sample(sample)
    assert (verdict.status, verdict.passed) == ("no_code", 0)
    assert verdict.total == len(problem.tests["inputs"])  # type: ignore[index]


def _correct(domain: str) -> Sample:
    for rec in RECORDED:
        sample = sample_of(rec)
        if sample.domain == domain and rec.get("recorded_correct"):
            verdict = verify_sample(sample)
            if verdict.correct:
                return sample.with_verdict(verdict)
    raise AssertionError("no correct sample")


def test_seed_style_renders_the_design_template() -> None:
    math = format_sample(_correct("math"), FormatConfig(style="seed"))
    assert math is not None and math.text is not None
    assert math.text.startswith(
        "You are a helpful AI math assistant. You excel at solving math problems by breaking "
        "them down into clear, logical steps.\n\nProblem:\n"
    )
    assert "\n\nSolve this problem step by step, showing your reasoning clearly.\n\n" in math.text
    assert "the answer is" in math.text[-300:].lower()
    code = format_sample(_correct("code"), FormatConfig(style="seed"))
    assert code is not None and code.text is not None
    assert code.text.startswith("You are an expert coding assistant.")
    assert (
        "Solve this coding problem step by step in Python, explaining your thought process "
        "and then providing the final working code." in code.text
    )
    assert "Here's my final solution:\n\n```python\n" in code.text
    assert [m["role"] for m in code.messages] == ["system", "user", "assistant"]


def test_messages_and_sharegpt_styles() -> None:
    sample = _correct("math")
    ex = format_sample(sample, FormatConfig(style="messages"))
    assert ex is not None and ex.text is None
    assert ex.messages[2]["content"] == sample.completion.strip()
    assert ex.meta["status"] == "correct" and ex.id == f"{sample.id}#{sample.sample_index}"
    share = format_sample(sample, FormatConfig(style="sharegpt"))
    assert share is not None
    conv = share.to_dict()["conversations"]
    assert [c["from"] for c in conv] == ["system", "human", "gpt"]


def test_wrong_samples_are_not_formatted_and_unverified_are_refused() -> None:
    sample = _correct("math")
    wrong = sample.with_verdict(Verdict(correct=False, status="wrong_answer"))
    assert format_sample(wrong) is None
    with pytest.raises(sfstream.RecordError, match="has no verdict"):
        format_sample(Sample(**{**sample.__dict__, "verdict": None}))


@pytest.mark.anyio
async def test_library_stages_keep_first_and_shortest() -> None:
    recs = [r for r in RECORDED if r["id"].startswith("math500/")][:40]
    samples = [sample_of(r) for r in recs]
    verified = [s async for s in sfstream.verify(aiter_of(samples), workers=2)]
    assert len(verified) == len(samples)
    assert {(s.id, s.sample_index) for s in verified} == {(s.id, s.sample_index) for s in samples}
    solved = {s.id for s in verified if s.verdict and s.verdict.correct}
    everything = [e async for e in sfstream.format(aiter_of(verified), keep="all")]
    first = [e async for e in sfstream.format(aiter_of(verified), keep="first")]
    shortest = [e async for e in sfstream.format(aiter_of(verified), keep="shortest")]
    assert len(everything) == sum(bool(s.verdict and s.verdict.correct) for s in verified)
    assert sorted(e.id.split("#")[0] for e in first) == sorted(solved)
    assert len(shortest) == len(solved)
    by_id: dict[str, list[Sample]] = {}
    for s in verified:
        if s.verdict and s.verdict.correct:
            by_id.setdefault(s.id, []).append(s)
    for e in shortest:
        pid = e.id.split("#")[0]
        assert len(e.messages[2]["content"]) == min(len(s.completion.strip()) for s in by_id[pid])


def test_malformed_tests_are_verdicts_through_the_cli(tmp_path: Path) -> None:
    """A sample whose problem has a malformed spec is judged invalid_tests; the others are
    judged as usual and the command succeeds."""
    import subprocess
    import sys

    def sample(ident: str, tests: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": ident,
            "domain": "code",
            "source": "local",
            "problem": "echo",
            "tests": tests,
            "sample_index": 0,
            "model": "m",
            "completion": "```python\nprint(input())\n```",
            "reasoning": None,
            "finish_reason": "stop",
            "usage": {},
        }

    rows = [
        sample("bad/empty", {"inputs": [], "outputs": []}),
        sample("bad/judge", {"inputs": ["1\n"], "outputs": ["1\n"], "judge": "fuzzy"}),
        sample("good/1", {"inputs": ["1\n"], "outputs": ["1\n"]}),
    ]
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    proc = subprocess.run(
        [sys.executable, "-m", "sfstream", "verify", "-i", str(path)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    verdicts = {r["id"]: r["verdict"] for r in map(json.loads, proc.stdout.decode().splitlines())}
    assert verdicts["good/1"]["status"] == "correct"
    assert verdicts["bad/empty"]["status"] == "invalid_tests"
    assert "no test cases" in verdicts["bad/empty"]["detail"]
    assert verdicts["bad/judge"]["status"] == "invalid_tests"
    assert "unknown judge" in verdicts["bad/judge"]["detail"]
