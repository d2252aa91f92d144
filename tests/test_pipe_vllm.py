"""The CLI as a real shell pipe against the real vLLM server:

    sfstream collect sample --limit 6 | sfstream generate ... | sfstream verify | sfstream format

Each stage's output is saved with ``tee`` and checked against the records of docs/records.md.
The tiny random model writes gibberish, so nothing is verified correct and the training file is
most likely empty; what matters is that every record is well-formed and every stage exits 0.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from sfstream.records import Example, Problem, Sample

BIN = Path(sys.executable).parent
DOCUMENTED_STATUSES = {
    "correct",
    "wrong_answer",
    "no_answer",
    "timeout",
    "memory_limit",
    "output_limit",
    "runtime_error",
    "syntax_error",
    "truncated",
    "no_code",
    "invalid_tests",
    "error",
}
PROBLEM_FIELDS = ("id", "domain", "source", "problem")
SAMPLE_FIELDS = ("sample_index", "model", "completion", "reasoning", "finish_reason", "usage")


def sh(command: str, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    for name in ("SFSTREAM_BASE_URL", "SFSTREAM_MODEL", "OPENAI_API_KEY"):
        env.pop(name, None)
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def read(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_bytes().splitlines(), 1):
        row = orjson.loads(line)
        assert isinstance(row, dict), f"{path.name}: line {number} is not an object"
        rows.append(row)
    return rows


@pytest.mark.vllm
@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    "collect_args", ["--limit 6", "--limit 6 --seed 2"], ids=["first6", "shuffled-with-code"]
)
def test_shell_pipe(vllm_server: Any, tmp_path: Path, collect_args: str) -> None:
    url = shlex.quote(vllm_server.base_url)
    command = (
        f"sfstream collect sample {collect_args} | tee problems.jsonl"
        f" | sfstream generate --base-url {url} --model tiny-llama -n 2 --max-tokens 64"
        " --concurrency 4 | tee samples.jsonl"
        " | sfstream verify | tee verified.jsonl"
        " | sfstream format --style messages > examples.jsonl"
    )
    proc = sh(command, tmp_path, timeout=200)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]

    problems = read(tmp_path / "problems.jsonl")
    assert len(problems) == 6
    for p in problems:
        assert all(isinstance(p[k], str) and p[k] for k in PROBLEM_FIELDS), p
        assert p["domain"] in ("math", "code")
        if p["domain"] == "math":
            assert isinstance(p["answer"], str)
        else:
            assert isinstance(p["tests"], dict)
        Problem.from_dict(p)
    assert len({p["id"] for p in problems}) == 6
    by_id = {p["id"]: p for p in problems}

    samples = read(tmp_path / "samples.jsonl")
    assert len(samples) == 12
    assert sorted((s["id"], s["sample_index"]) for s in samples) == sorted(
        (i, k) for i in by_id for k in (0, 1)
    )
    for s in samples:
        assert all(k in s for k in SAMPLE_FIELDS), s
        assert {k: s[k] for k in by_id[s["id"]]} == by_id[s["id"]]  # problem fields ride along
        assert s["model"] == "tiny-llama"
        assert isinstance(s["completion"], str) and s["completion"]
        assert s["finish_reason"] in ("stop", "length")
        assert isinstance(s["usage"], dict) and s["usage"]["completion_tokens"] > 0
        assert "error" not in s
        Sample.from_dict(s)

    verified = read(tmp_path / "verified.jsonl")
    assert len(verified) == 12
    assert sorted((v["id"], v["sample_index"]) for v in verified) == sorted(
        (s["id"], s["sample_index"]) for s in samples
    )
    for v in verified:
        verdict = v["verdict"]
        assert isinstance(verdict["correct"], bool)
        assert verdict["status"] in DOCUMENTED_STATUSES
        assert verdict["correct"] == (verdict["status"] == "correct")
        if v["domain"] == "code":
            assert isinstance(verdict["passed"], int) and isinstance(verdict["total"], int)
        else:
            assert verdict["passed"] is None and verdict["total"] is None
        Sample.from_dict(v)
    # Gibberish from a random model: nothing checks out.
    assert not any(v["verdict"]["correct"] for v in verified)

    examples = read(tmp_path / "examples.jsonl")
    assert len(examples) == sum(v["verdict"]["correct"] for v in verified)
    for e in examples:
        Example.from_dict(e)
        assert [m["role"] for m in e["messages"]][-1] == "assistant"


def test_dead_server_fails_the_pipe(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = sh(
        "sfstream collect sample --limit 2 | sfstream generate --base-url "
        f"http://127.0.0.1:{port}/v1 --model m --max-retries 1 > samples.jsonl",
        tmp_path,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert f"cannot connect to http://127.0.0.1:{port}/v1" in proc.stderr
