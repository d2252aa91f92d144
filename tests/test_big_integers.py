"""Integers beyond 64 bits stay exact from collect to format, in one process and through the
shell pipe: an expected value of 10**20 + 1 is never read as the float 1e20 (which a wrong
program printing 10**20 would then match)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sfstream import _exactjson, format, verify
from sfstream.ndjson import decode_line, dumps
from sfstream.records import Problem, Sample
from stage_helpers import aiter_of

BIG = 10**20 + 1
SFSTREAM = [sys.executable, "-m", "sfstream"]

PROBLEMS = [
    {
        "id": "big/call",
        "domain": "code",
        "source": "local",
        "problem": "Return 10**20 + x.",
        "tests": {"inputs": [[1], [-BIG]], "outputs": [BIG, -1], "fn_name": "f"},
    },
    {
        "id": "big/stdin",
        "domain": "code",
        "source": "local",
        "problem": "Print 10**20 + 1.",
        "tests": {"inputs": ["\n"], "outputs": [f"{BIG}\n"], "fn_name": None},
    },
]
RIGHT = {
    "big/call": "```python\ndef f(x):\n    return 10**20 + x\n```",
    "big/stdin": "```python\nprint(10**20 + 1)\n```",
}
WRONG = {
    "big/call": "```python\ndef f(x):\n    return 10**20 if x == 1 else -1\n```",
    "big/stdin": "```python\nprint(10**20)\n```",
}


def test_json_keeps_every_digit() -> None:
    text = b'{"a": [100000000000000000001, -100000000000000000001, 18446744073709551615]}'
    assert _exactjson.loads(text) == {"a": [BIG, -BIG, 2**64 - 1]}
    assert _exactjson.loads(text.decode()) == {"a": [BIG, -BIG, 2**64 - 1]}
    assert _exactjson.loads(b'{"digits": "1234567890123456789012"}') == {
        "digits": "1234567890123456789012"
    }
    assert _exactjson.dumps({"a": [BIG, {"b": -BIG}], "s": "é"}) == (
        '{"a":[100000000000000000001,{"b":-100000000000000000001}],"s":"é"}'.encode()
    )
    assert _exactjson.dumps({"n": 1}, newline=True) == b'{"n":1}\n'
    with pytest.raises(_exactjson.JSONDecodeError):
        _exactjson.loads(b"{nope 100000000000000000001}")
    with pytest.raises(TypeError):
        _exactjson.dumps({"x": object()})
    record = decode_line(dumps(Problem.from_dict(PROBLEMS[0])).rstrip(b"\n"), 1 << 20)
    assert record is not None and record["tests"]["outputs"] == [BIG, -1]


def _samples(codes: dict[str, str]) -> list[Sample]:
    out = []
    for p in PROBLEMS:
        out.append(
            Sample.from_dict(
                {
                    **p,
                    "sample_index": 0,
                    "model": "m",
                    "completion": codes[p["id"]],
                    "reasoning": None,
                    "finish_reason": "stop",
                    "usage": {},
                }
            )
        )
    return out


@pytest.mark.anyio
async def test_in_process_verdicts_are_exact() -> None:
    right = {s.id: s async for s in verify(aiter_of(_samples(RIGHT)))}
    wrong = {s.id: s async for s in verify(aiter_of(_samples(WRONG)))}
    assert {k: s.verdict.status for k, s in right.items() if s.verdict} == {
        "big/call": "correct",
        "big/stdin": "correct",
    }
    assert {k: s.verdict.status for k, s in wrong.items() if s.verdict} == {
        "big/call": "wrong_answer",
        "big/stdin": "wrong_answer",
    }
    examples = [e async for e in format(aiter_of(right.values()), style="messages")]
    assert len(examples) == 2
    tests = right["big/call"].tests
    assert tests is not None and tests["outputs"] == [BIG, -1]


def test_shell_pipe_keeps_big_integers(tmp_path: Path) -> None:
    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS))
    collected = subprocess.run(
        [*SFSTREAM, "collect", str(problems)], capture_output=True, timeout=120, check=True
    ).stdout
    rows = [json.loads(line) for line in collected.splitlines()]
    assert rows[0]["tests"]["outputs"] == [BIG, -1]
    assert rows[1]["tests"]["outputs"] == [f"{BIG}\n"]

    for name, codes, status in (("right", RIGHT, "correct"), ("wrong", WRONG, "wrong_answer")):
        samples = tmp_path / f"{name}.jsonl"
        samples.write_text(
            "".join(
                json.dumps(
                    {
                        **row,
                        "sample_index": 0,
                        "model": "m",
                        "completion": codes[row["id"]],
                        "reasoning": None,
                        "finish_reason": "stop",
                        "usage": {},
                    }
                )
                + "\n"
                for row in rows
            )
        )
        verified_path = tmp_path / f"{name}.verified.jsonl"
        pipe = (
            f"{sys.executable} -m sfstream verify -i {samples} | tee {verified_path} "
            f"| {sys.executable} -m sfstream format --style messages"
        )
        proc = subprocess.run(["bash", "-c", pipe], capture_output=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr.decode()
        verified: dict[str, dict[str, Any]] = {}
        for line in verified_path.read_bytes().splitlines():
            row = json.loads(line)
            verified[row["id"]] = row
        assert {k: v["verdict"]["status"] for k, v in verified.items()} == {
            "big/call": status,
            "big/stdin": status,
        }
        assert verified["big/call"]["tests"]["outputs"] == [BIG, -1]
        assert b"100000000000000000001" in verified_path.read_bytes()
        examples = proc.stdout.splitlines()
        assert len(examples) == (2 if status == "correct" else 0)


def test_a_float_never_stands_in_for_a_big_integer() -> None:
    from sfstream import run_tests

    spec = {"inputs": [[1]], "outputs": [BIG], "fn_name": "f"}
    assert run_tests("def f(x):\n    return 10**20 + x\n", spec).status == "correct"
    # float(10**20 + 1) is 1e20: Python's == says it is not 10**20 + 1, and so does the judge.
    assert run_tests("def f(x):\n    return float(10**20 + x)\n", spec).status == "wrong_answer"
    assert run_tests("def f(x):\n    return 2.0\n", {**spec, "outputs": [2]}).status == "correct"
