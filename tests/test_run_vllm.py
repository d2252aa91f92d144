"""``sfstream run`` with a configuration file, against the real vLLM server."""

from __future__ import annotations

import subprocess
import sys
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
    assert report["tokens"]["completion_tokens"] > 0
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
