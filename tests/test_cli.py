"""The ``sfstream`` command as a user runs it: real processes, real files, real pipes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from sfstream.records import Example, Problem, Sample

SFSTREAM = [sys.executable, "-m", "sfstream"]


def sh(
    args: list[str], *, input: bytes | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        SFSTREAM + args, input=input, capture_output=True, cwd=cwd, timeout=timeout, check=False
    )


def lines(data: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in data.splitlines() if x.strip()]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    cwd = tmp_path_factory.mktemp("run")
    proc = sh(["run"], cwd=cwd, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()
    return cwd / "sfstream-out", proc.stderr.decode()


def test_run_without_arguments_writes_examples_of_both_domains(
    default_run: tuple[Path, str],
) -> None:
    out, stderr = default_run
    train = [Example.from_dict(d) for d in lines((out / "train.jsonl").read_bytes())]
    domains = {e.domain for e in train}
    assert domains == {"math", "code"}
    for e in train:
        assert [m["role"] for m in e.messages] == ["system", "user", "assistant"]
        assert e.meta["status"] == "correct"
    verified = [Sample.from_dict(d) for d in lines((out / "verified.jsonl").read_bytes())]
    assert all(s.verdict is not None for s in verified)
    assert sum(bool(s.verdict and s.verdict.correct) for s in verified) == len(train)
    report = orjson.loads((out / "report.json").read_bytes())
    assert report["stages"]["collect"] == 103
    assert report["stages"]["generate"] == report["stages"]["verify"] == len(verified)
    assert report["stages"]["format"] == len(train)
    assert set(report["by_domain"]) == {"math", "code"}
    assert 0 < report["by_domain"]["code"]["pass_rate"] < 1
    assert str(out / "train.jsonl") in stderr and str(out / "report.json") in stderr
    assert "by source" in (out / "report.txt").read_text()
    assert not list(out.glob("*.partial"))


def test_recorded_grades_reproduced_by_the_run(default_run: tuple[Path, str]) -> None:
    # The replayed completions carry their upstream grade: sfstream's verdicts must agree on
    # the code samples (graded by tests) and nearly all math ones.
    out, _ = default_run
    verified = [Sample.from_dict(d) for d in lines((out / "verified.jsonl").read_bytes())]
    code = [s for s in verified if s.domain == "code"]
    assert code and all(
        s.verdict and s.verdict.correct == s.extra["recorded_correct"] for s in code
    )


def test_run_with_config_file(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text(
        'out = "o"\nprogress = false\n[collect]\nsources = ["sample"]\n'
        'limit = 90\nseed = 1\n[format]\nstyle = "seed"\nkeep = "first"\n'
    )
    proc = sh(["run", "--config", str(config)], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    train = lines((tmp_path / "o" / "train.jsonl").read_bytes())
    ids = [e["id"].split("#")[0] for e in train]
    assert len(ids) == len(set(ids)) > 0
    assert all(e["text"].startswith("You are") for e in train)
    bad = tmp_path / "bad.toml"
    bad.write_text("[generate]\ntemperatur = 0.5\n")
    proc = sh(["run", "--config", str(bad)], cwd=tmp_path)
    assert proc.returncode == 1
    assert (
        proc.stderr.decode().strip().splitlines()[-1].startswith("sfstream run: error: ")
        and "temperatur" in proc.stderr.decode()
    )


def test_stage_filters_compose_as_a_shell_pipe(tmp_path: Path) -> None:
    pipe = (
        "set -o pipefail; {s} collect sample --limit 40 | {s} generate --backend replay "
        "| tee {t}/samples.jsonl | {s} verify --workers 2 | tee {t}/verified.jsonl "
        "| {s} format --style sharegpt > {t}/train.jsonl"
    ).format(s=" ".join(SFSTREAM), t=tmp_path)
    proc = subprocess.run(["bash", "-c", pipe], capture_output=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    samples = [Sample.from_dict(d) for d in lines((tmp_path / "samples.jsonl").read_bytes())]
    verified = [Sample.from_dict(d) for d in lines((tmp_path / "verified.jsonl").read_bytes())]
    train = lines((tmp_path / "train.jsonl").read_bytes())
    assert len(samples) == len(verified) >= 40
    assert len(train) == sum(bool(s.verdict and s.verdict.correct) for s in verified) > 0
    assert all(len(e["conversations"]) == 3 for e in train)


def test_bad_input_stops_with_one_line_naming_it() -> None:
    problem = sh(["collect", "sample", "--limit", "2"]).stdout
    proc = sh(["generate", "--backend", "replay"], input=problem + b"{oops\n")
    assert proc.returncode == 1
    last = proc.stderr.decode().strip().splitlines()[-1]
    assert last.startswith("sfstream generate: error: <stdin>: line 3: invalid JSON")
    assert "Traceback" not in proc.stderr.decode()
    proc = sh(["verify"], input=problem)
    assert proc.returncode == 1
    assert (
        "<stdin>: line 1: verify reads samples (the output of generate), got a problem"
        in proc.stderr.decode()
    )
    proc = sh(["verify"], input=b"\xff\xfe\n")
    assert "line 1: not valid UTF-8" in proc.stderr.decode()


def test_on_error_skip_reports_and_goes_on() -> None:
    problems = sh(["collect", "sample", "--limit", "3"]).stdout.splitlines()
    data = problems[0] + b"\n[1]\n" + problems[1] + b"\n" + b'{"id": 3}\n' + problems[2] + b"\n"
    proc = sh(["generate", "--backend", "replay", "--on-error", "skip", "-n", "1"], input=data)
    assert proc.returncode == 0, proc.stderr.decode()
    assert len(lines(proc.stdout)) == 3
    err = proc.stderr.decode()
    assert "line 2 skipped: expected a JSON object, got an array" in err
    assert "line 4 skipped: field 'id' must be a string, got integer" in err
    assert "2 malformed line(s) skipped" in err


def test_collect_errors_are_one_line(tmp_path: Path) -> None:
    proc = sh(["collect", "no-such-set"])
    assert proc.returncode == 1
    assert proc.stderr.decode().count("\n") == 1
    assert proc.stderr.decode().startswith("sfstream collect: error: unknown source")
    proc = sh(["collect", "math500", "--data-dir", str(tmp_path)])
    assert proc.returncode == 1 and "math500" in proc.stderr.decode()
    assert sh(["collect"]).returncode == 2  # usage error


def test_ctrl_c_stops_cleanly_and_says_what_was_written(tmp_path: Path) -> None:
    samples = sh(["collect", "sample", "--limit", "5"]).stdout
    samples = sh(["generate", "--backend", "replay"], input=samples).stdout
    out = tmp_path / "v.jsonl"
    proc = subprocess.Popen(
        [*SFSTREAM, "verify", "-o", str(out)], stdin=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write(samples)
    proc.stdin.flush()  # stdin stays open: verify waits for more input
    partial = tmp_path / "v.jsonl.partial"
    deadline = time.monotonic() + 60
    while (
        time.monotonic() < deadline
        and len(lines(partial.read_bytes() if partial.exists() else b"")) < 10
    ):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    try:
        assert proc.wait(timeout=30) == 130
        err = proc.stderr.read().decode()
    finally:
        proc.kill()
        proc.stdin.close()
        proc.stderr.close()
    written = len(lines(partial.read_bytes()))
    assert written == 10
    assert f"interrupted; wrote {written} records to {partial}" in err
    assert "Traceback" not in err


def test_stats_summarises_any_stage(default_run: tuple[Path, str]) -> None:
    out, _ = default_run
    proc = sh(["stats", "--json", "-i", str(out / "verified.jsonl")])
    assert proc.returncode == 0
    stats = orjson.loads(proc.stdout)
    assert stats["stages"]["verify"] == len(lines((out / "verified.jsonl").read_bytes()))
    assert sum(stats["statuses"].values()) == stats["stages"]["verify"]
    text = sh(["stats", "-i", str(out / "verified.jsonl")]).stdout.decode()
    assert "by domain" in text and "math" in text


def test_output_to_a_closed_pipe_ends_quietly() -> None:
    pipe = f"{' '.join(SFSTREAM)} collect sample | head -n 1"
    proc = subprocess.run(["bash", "-c", pipe], capture_output=True, timeout=60, check=False)
    assert proc.returncode == 0
    assert Problem.from_dict(orjson.loads(proc.stdout))
    assert b"Traceback" not in proc.stderr


def test_version_and_help() -> None:
    proc = sh(["--help"])
    for command in ("collect", "generate", "verify", "format", "run", "stats"):
        assert command in proc.stdout.decode()
    assert sh(["--version"]).stdout.decode().startswith("sfstream ")
    assert os.environ.get("SFSTREAM_BASE_URL") is None or True
