"""Quality measures on every verdict, and the thresholds that make a sample ``low_quality``:
on the bundled sample's recorded completions, real model outputs and real sandbox runs."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from sfstream.code_verdict import run_tests
from sfstream.quality import count_steps, count_tokens, explanation_chars, measure
from sfstream.records import Sample, Verdict
from sfstream.report import Report
from sfstream.verify import VerifyConfig, verify_sample
from test_verify_format import PROBLEMS, RECORDED, sample_of

COMMON = {"chars", "completion_tokens", "reasoning_tokens", "tokens_from", "steps"}


def _first(domain: str, correct: bool = True) -> Sample:
    for rec in RECORDED:
        if PROBLEMS[rec["id"]].domain == domain and rec.get("recorded_correct") is correct:
            if rec.get("finish_reason") != "length":
                return sample_of(rec)
    raise AssertionError(f"the sample has no {domain} completion graded {correct}")


def test_counting_rules() -> None:
    assert count_tokens("x_1 = 2+3, so 5.") == 9
    text = "Step one.\nStill one.\n\n\nStep two.\n```python\nx = 1\n\nprint(x)\n```\n\nEnd."
    # The fence joins its paragraph and its blank line inside does not split it.
    assert count_steps(text) == 3
    assert count_steps("") == 0
    assert explanation_chars("Explain.\n\n```python\nprint(1)\n```\n\nDone.") == len(
        "Explain.\n\n\n\nDone."
    )
    q = measure("a b", "c", None)
    assert (q["completion_tokens"], q["reasoning_tokens"], q["tokens_from"]) == (3, 1, "counted")
    usage = {"completion_tokens": 40, "completion_tokens_details": {"reasoning_tokens": 30}}
    q = measure("a b", "c", usage)
    assert (q["completion_tokens"], q["reasoning_tokens"], q["tokens_from"]) == (40, 30, "usage")


def test_every_verdict_of_the_sample_carries_quality_and_defaults_change_nothing() -> None:
    config = VerifyConfig(time_limit=6.0)
    seen_code_timings = 0
    for rec in RECORDED:
        sample = sample_of(rec)
        verdict = verify_sample(sample, config)
        assert verdict.status != "low_quality"
        q = verdict.quality
        assert q is not None and COMMON <= set(q), (rec["id"], q)
        assert q["chars"] == len(sample.completion) + len(sample.reasoning or "")
        if isinstance((sample.usage or {}).get("completion_tokens"), int):
            assert q["completion_tokens"] == sample.usage["completion_tokens"]  # type: ignore[index]
            assert q["tokens_from"] == "usage"
        else:
            assert q["tokens_from"] == "counted"
        if sample.domain == "code":
            assert "explanation_chars" in q
            if verdict.status not in ("no_code", "invalid_tests"):
                # One timing per case run; a correct program ran every case.
                walls = q["test_wall_s"]
                assert len(walls) == len(q["test_cpu_s"]) == len(q["test_peak_mb"]) >= 1
                if verdict.correct:
                    assert len(walls) == verdict.total
                ratio = max(walls) / config.time_limit
                assert q["test_time_ratio"] == pytest.approx(ratio, abs=1e-4)
                assert all(m > 0 for m in q["test_peak_mb"])
                seen_code_timings += 1
        else:
            assert "test_wall_s" not in q
        # The record keeps the measures through a round trip.
        assert Verdict.from_dict(orjson.loads(orjson.dumps(verdict.to_dict()))) == verdict
    assert seen_code_timings >= 10


def test_min_steps() -> None:
    sample = _first("math")
    plain = verify_sample(sample)
    assert plain.correct
    steps = plain.quality["steps"]  # type: ignore[index]
    assert steps >= 2
    assert verify_sample(sample, VerifyConfig(min_steps=steps)).status == "correct"
    low = verify_sample(sample, VerifyConfig(min_steps=steps + 1))
    assert (low.correct, low.status) == (False, "low_quality")
    assert low.detail == (f"below quality thresholds: min_steps (steps {steps} < {steps + 1})")
    assert low.extracted == plain.extracted


def test_max_completion_tokens() -> None:
    sample = _first("math")
    tokens = verify_sample(sample).quality["completion_tokens"]  # type: ignore[index]
    assert verify_sample(sample, VerifyConfig(max_completion_tokens=tokens)).correct
    low = verify_sample(sample, VerifyConfig(max_completion_tokens=tokens - 1))
    assert low.status == "low_quality" and "max_completion_tokens" in (low.detail or "")
    # A wrong sample stays wrong: thresholds only judge otherwise correct samples.
    wrong = _first("math", correct=False)
    assert verify_sample(wrong, VerifyConfig(max_completion_tokens=1)).status != "low_quality"


def test_min_explanation_chars() -> None:
    sample = _first("code")
    config = VerifyConfig(time_limit=6.0)
    plain = verify_sample(sample, config)
    assert plain.correct
    chars = plain.quality["explanation_chars"]  # type: ignore[index]
    ok = dataclasses.replace(config, min_explanation_chars=chars)
    assert verify_sample(sample, ok).correct
    low = verify_sample(sample, dataclasses.replace(config, min_explanation_chars=chars + 1))
    assert low.status == "low_quality" and "min_explanation_chars" in (low.detail or "")


def _slow_sample(seconds: float) -> Sample:
    program = f"import time\ntime.sleep({seconds})\nprint(int(input()) * 2)\n"
    completion = f"Double the number.\n\n```python\n{program}```\n"
    return Sample(
        id="quality/slow",
        domain="code",
        source="local",
        problem="Print twice the input.",
        tests={"inputs": ["2\n", "5\n"], "outputs": ["4\n", "10\n"], "fn_name": None},
        completion=completion,
    )


def test_max_test_time_ratio_in_the_real_sandbox() -> None:
    # The program sleeps 0.6 s per case under a 2 s limit: its ratio is at least 0.3.
    sample = _slow_sample(0.6)
    config = VerifyConfig(time_limit=2.0)
    plain = verify_sample(sample, config)
    assert plain.correct
    q = plain.quality
    assert q is not None and len(q["test_wall_s"]) == 2
    assert min(q["test_wall_s"]) >= 0.6 and q["test_time_ratio"] >= 0.3
    # A sleeping program uses little CPU: CPU time is measured apart from wall time.
    assert max(q["test_cpu_s"]) < min(q["test_wall_s"])
    low = verify_sample(sample, dataclasses.replace(config, max_test_time_ratio=0.25))
    assert low.status == "low_quality" and "max_test_time_ratio" in (low.detail or "")
    # A passing case ends within its limit, so a ratio limit of 1 keeps every passing program.
    assert verify_sample(sample, dataclasses.replace(config, max_test_time_ratio=1.0)).correct


def test_run_tests_exposes_cpu_time_and_peak_memory() -> None:
    burn = (
        'x = bytearray(b"\\x01") * (64 << 20)\n'
        "n = 0\n"
        "for i in range(3_000_000):\n    n += i\n"
        "print(len(x) >> 20)\n"
    )
    v = run_tests(burn, {"inputs": [""], "outputs": ["64\n"]}, time_limit=10.0)
    assert v.correct
    ((wall, cpu, rss),) = v.timings
    assert rss >= 64 << 20
    assert 0 < cpu <= wall + 0.05


def test_real_model_outputs_are_measured(shared_data: Path) -> None:
    path = next((shared_data / "llm_outputs" / "math500").glob("Qwen2.5-14B*seed0*.jsonl"))
    rows = [json.loads(line) for line in path.read_text().splitlines()[:200]]
    steps = []
    for r in rows:
        completion = r["code"][0]
        q = measure(completion, None, None)
        assert q["tokens_from"] == "counted"
        assert q["completion_tokens"] >= count_tokens(completion.split("\n\n")[0])
        steps.append(q["steps"])
    # Qwen writes its chains as paragraphs: nearly every one has several.
    assert sum(s >= 2 for s in steps) >= 0.9 * len(steps)


def test_real_humaneval_solutions_get_per_case_measures(shared_data: Path) -> None:
    from sandbox_real_data import reflexion_humaneval

    for _, program, tests, solved in list(reflexion_humaneval(shared_data))[:5]:
        v = run_tests(program, tests, time_limit=10.0)
        assert v.correct == solved
        assert len(v.timings) == 1
        wall, cpu, rss = v.timings[0]
        assert wall > 0 and rss > 0 and cpu >= 0


def _report_of(samples: list[dict[str, Any]]) -> Report:
    report = Report()
    for d in samples:
        report.observe_any(Sample.from_dict(d))
    return report


def test_cli_threshold_and_report_counts_each_reason(tmp_path: Path) -> None:
    recs = [r for r in RECORDED if PROBLEMS[r["id"]].domain == "math"][:40]
    src = tmp_path / "samples.jsonl"
    src.write_bytes(b"".join(orjson.dumps(sample_of(r).to_dict()) + b"\n" for r in recs))
    cmd = [sys.executable, "-m", "sfstream", "verify", "-i", str(src)]
    plain = subprocess.run(cmd, capture_output=True, check=True, timeout=300)
    strict = subprocess.run(
        [*cmd, "--min-steps", "8", "--max-completion-tokens", "400"],
        capture_output=True,
        check=True,
        timeout=300,
    )
    before = [orjson.loads(x) for x in plain.stdout.splitlines()]
    after = [orjson.loads(x) for x in strict.stdout.splitlines()]
    assert all("quality" in d["verdict"] for d in before)
    by_key = {(d["id"], d["sample_index"]): d["verdict"] for d in before}
    low = 0
    for d in after:
        v, was = d["verdict"], by_key[(d["id"], d["sample_index"])]
        q = v["quality"]
        expect_low = was["correct"] and (q["steps"] < 8 or q["completion_tokens"] > 400)
        assert (v["status"] == "low_quality") == expect_low, (v, was)
        low += expect_low
    assert 0 < low < sum(v["correct"] for v in by_key.values())
    report = _report_of(after).to_dict()
    assert report["statuses"]["low_quality"] == low
    reasons = report["low_quality"]
    assert set(reasons) <= {"min_steps", "max_completion_tokens"}
    lows = [d["verdict"] for d in after if d["verdict"]["status"] == "low_quality"]
    n_steps = sum(v["quality"]["steps"] < 8 for v in lows)
    assert reasons.get("min_steps", 0) == n_steps
    assert "low_quality: " in _report_of(after).to_text()
    assert "low_quality" not in _report_of(before).to_dict()


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_thresholds_are_checked(bad: Any) -> None:
    from sfstream.errors import ConfigError

    with pytest.raises(ConfigError):
        VerifyConfig(min_steps=bad)


def test_format_drops_samples_below_its_thresholds() -> None:
    from sfstream.format import FormatConfig, format_sample

    sample = _first("math")
    verified = sample.with_verdict(verify_sample(sample))
    steps = verified.verdict.quality["steps"]  # type: ignore[union-attr,index]
    assert format_sample(verified, FormatConfig(min_steps=steps)) is not None
    assert format_sample(verified, FormatConfig(min_steps=steps + 1)) is None
    tokens = verified.verdict.quality["completion_tokens"]  # type: ignore[union-attr,index]
    assert format_sample(verified, FormatConfig(max_completion_tokens=tokens - 1)) is None
    # A verdict written without measures is formatted as before.
    bare = verified.with_verdict(dataclasses.replace(verified.verdict, quality=None))  # type: ignore[arg-type]
    assert format_sample(bare, FormatConfig(min_steps=steps + 1)) is not None


def test_run_reads_thresholds_from_its_toml_file(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text("[verify]\nmin_steps = 8\nmin_explanation_chars = 200\n")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "sfstream", "run", "--config", str(config), "--out", str(out)],
        capture_output=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    report = orjson.loads((out / "report.json").read_bytes())
    verified = [orjson.loads(x) for x in (out / "verified.jsonl").read_bytes().splitlines()]
    lows = [d["verdict"] for d in verified if d["verdict"]["status"] == "low_quality"]
    assert lows and report["statuses"]["low_quality"] == len(lows)
    steps = sum(v["quality"]["steps"] < 8 for v in lows)
    expl = sum(v["quality"].get("explanation_chars", 10**9) < 200 for v in lows)
    assert report["low_quality"] == {
        k: n for k, n in (("min_steps", steps), ("min_explanation_chars", expl)) if n
    }
    assert "low_quality: " in (out / "report.txt").read_text()
    # Only samples that pass both thresholds became training examples.
    train = (out / "train.jsonl").read_bytes().splitlines()
    assert len(train) == sum(d["verdict"]["correct"] for d in verified)
    assert all(d["verdict"]["quality"]["steps"] >= 8 for d in verified if d["verdict"]["correct"])
    assert "min_steps = 8" in (out / "config.toml").read_text()


def test_merge_sums_the_reasons() -> None:
    from sfstream.merge import _sum_reports

    total = _sum_reports(
        [
            {"statuses": {"low_quality": 2}, "low_quality": {"min_steps": 2}},
            {
                "statuses": {"low_quality": 3},
                "low_quality": {"min_steps": 1, "min_explanation_chars": 3},
            },
            {"statuses": {"correct": 1}},
        ]
    )
    assert total.to_dict()["low_quality"] == {"min_steps": 3, "min_explanation_chars": 3}


def test_counts_shared_by_several_samples_are_not_one_samples() -> None:
    # A response of 3 samples without per-choice counts: each sample holds the response's
    # usage and shared_by 3. Its completion tokens are then counted, not taken from usage.
    shared = {"prompt_tokens": 11, "completion_tokens": 300, "shared_by": 3}
    q = measure("a b", "c", shared)
    assert (q["completion_tokens"], q["reasoning_tokens"], q["tokens_from"]) == (3, 1, "counted")
    assert measure("a b", None, {**shared, "shared_by": 1})["completion_tokens"] == 300
    # The report counts the response's tokens once over its samples.
    report = Report()
    for index in range(3):
        report.observe(
            "generate",
            Sample(
                id="p",
                domain="math",
                source="s",
                problem="q",
                answer="1",
                sample_index=index,
                completion="x",
                usage=shared,
            ),
        )
    own = {"prompt_tokens": 11, "completion_tokens": 7}
    report.observe(
        "generate",
        Sample(id="r", domain="math", source="s", problem="q", answer="1", usage=own),
    )
    assert report.tokens == {"prompt_tokens": 22, "completion_tokens": 307}
