"""``sfstream run`` with a configuration file, against the real vLLM server."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from sfstream.records import Sample


@pytest.mark.vllm
def test_run_with_a_real_server(vllm_server: Any, tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text(
        f'out = "{tmp_path / "out"}"\n'
        '[collect]\nsources = ["sample"]\nlimit = 8\nseed = 3\n'
        f'[generate]\nbackend = "openai"\nbase_url = "{vllm_server.base_url}"\n'
        f'model = "{vllm_server.model}"\nn = 2\nmax_tokens = 24\nseed = 7\nconcurrency = 4\n'
        "[verify]\nworkers = 2\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "sfstream", "run", "--config", str(config)],
        capture_output=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    out = tmp_path / "out"
    report = orjson.loads((out / "report.json").read_bytes())
    assert report["stages"]["collect"] == 8
    assert report["stages"]["generate"] == report["stages"]["verify"] == 16
    # 24 tokens of gibberish: nearly always cut at the limit, sometimes an early end.
    assert set(report["finish_reasons"]) <= {"length", "stop"}
    assert report["statuses"].get("truncated", 0) == report["finish_reasons"].get("length", 0)
    assert sum(report["statuses"].values()) == 16
    # Each response's counts once (n = 2 samples share one response's usage): at most 24 per
    # sample, and exactly the "length" samples' 24 plus a few for early ends.
    lengths = report["finish_reasons"].get("length", 0)
    assert 24 * lengths <= report["tokens"]["completion_tokens"] <= 24 * 16
    verified = [
        Sample.from_dict(orjson.loads(line))
        for line in (out / "verified.jsonl").read_bytes().splitlines()
    ]
    indices: dict[str, set[int]] = {}
    for s in verified:
        indices.setdefault(s.id, set()).add(s.sample_index)
    assert len(indices) == 8 and all(v == {0, 1} for v in indices.values())
    assert {s.model for s in verified} == {vllm_server.model}
    train = (out / "train.jsonl").read_bytes().splitlines()
    assert len(train) == report["statuses"].get("correct", 0)


def _complete_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


@pytest.mark.vllm
def test_run_killed_while_generating_resumes_against_the_real_server(
    vllm_server: Any, tmp_path: Path
) -> None:
    """``kill -9`` once two responses are journaled; the same command finishes the run with
    every sample once, asking the server only for what the journal does not hold. One request
    at a time, so a warm server cannot finish all 24 between two looks at the journal."""
    out = tmp_path / "out"
    args = [
        sys.executable,
        "-m",
        "sfstream",
        "run",
        "sample",
        "--limit",
        "24",
        "--seed",
        "3",
        "--base-url",
        vllm_server.base_url,
        "--model",
        vllm_server.model,
        "-n",
        "2",
        "--max-tokens",
        "48",
        "--generate-seed",
        "7",
        "--concurrency",
        "1",
        "--workers",
        "2",
        "--out",
        str(out),
        "-q",
    ]
    journal = out / "generate.journal"
    with subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        try:
            deadline = time.monotonic() + 600
            while _complete_lines(journal) < 4:
                assert proc.poll() is None, "the run ended before the kill point"
                assert time.monotonic() < deadline, "no response journaled"
                time.sleep(0.002)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    journaled = _complete_lines(journal)
    assert 4 <= journaled < 48 and journaled % 2 == 0  # whole responses of n=2
    assert not (out / "report.json").exists()
    resumed = subprocess.run(args, capture_output=True, timeout=600, check=False)
    assert resumed.returncode == 0, resumed.stderr.decode()
    report = orjson.loads((out / "report.json").read_bytes())
    stages = report["stages"]
    assert stages.pop("format", 0) == report["statuses"].get("correct", 0)
    assert stages == {"collect": 24, "generate": 48, "verify": 48}
    assert report["resumed"]["reused_from_journal"] == journaled
    assert report["resumed"]["generated_now"] == 48 - journaled
    assert _complete_lines(journal) == 48  # each response journaled once over both runs
    keys = [
        (s["id"], s["sample_index"])
        for s in (orjson.loads(x) for x in (out / "verified.jsonl").read_bytes().splitlines())
    ]
    assert len(keys) == len(set(keys)) == 48
    assert {i for _, i in keys} == {0, 1} and len({k for k, _ in keys}) == 24
