"""Records: validation messages, round trips, kind detection."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sfstream.errors import RecordError
from sfstream.records import Example, Problem, Sample, Verdict, record_from_dict, spec_error

MATH = {
    "id": "math500/test/1",
    "domain": "math",
    "source": "math500",
    "problem": "2+2?",
    "answer": "4",
    "meta": {"level": 1},
}
CODE = {
    "id": "apps/train/1",
    "domain": "code",
    "source": "apps",
    "problem": "echo",
    "tests": {"inputs": ["1\n"], "outputs": ["1\n"], "fn_name": None},
    "starter_code": None,
}
SAMPLE = {
    **MATH,
    "sample_index": 2,
    "model": "m",
    "completion": "4",
    "reasoning": None,
    "finish_reason": "stop",
    "usage": {"completion_tokens": 3},
}


def test_problem_round_trip_is_lossless() -> None:
    for d in (MATH, CODE, {**MATH, "generation": {"temperature": 0.2}}):
        record = Problem.from_dict(d)
        again = orjson.loads(orjson.dumps(record.to_dict()))
        assert Problem.from_dict(again) == record
        for key, value in d.items():
            assert again[key] == value


def test_sample_with_verdict_round_trip() -> None:
    verdict = Verdict(correct=True, status="correct", extracted="4")
    sample = Sample.from_dict(SAMPLE).with_verdict(verdict)
    d = orjson.loads(orjson.dumps(sample.to_dict()))
    assert d["verdict"] == {
        "correct": True,
        "status": "correct",
        "extracted": "4",
        "passed": None,
        "total": None,
        "detail": None,
    }
    again = Sample.from_dict(d)
    assert again == sample
    assert again.problem_record() == Problem.from_dict(MATH)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sample_index": -1}, "'sample_index' must not be negative"),
        ({"sample_index": True}, "'sample_index' must be an integer, got boolean"),
        ({"completion": None}, "'completion' must be a string, got null"),
        ({"usage": [1]}, "'usage' must be an object or null, got array"),
        ({"verdict": {"status": "correct"}}, "missing required field 'correct'"),
        (
            {"verdict": {"correct": "yes", "status": "x"}},
            "'verdict.correct' must be a boolean, got string",
        ),
        ({"meta": "x"}, "'meta' must be an object, got string"),
    ],
)
def test_sample_validation_messages(change: dict[str, Any], message: str) -> None:
    with pytest.raises(RecordError, match=message):
        Sample.from_dict({**SAMPLE, **change})


def test_code_problem_needs_tests() -> None:
    with pytest.raises(RecordError, match="missing required field 'tests'"):
        Problem.from_dict({k: v for k, v in CODE.items() if k != "tests"})
    with pytest.raises(RecordError, match="field 'tests' must be an object"):
        Problem.from_dict({**CODE, "tests": [["1"], ["1"]]})
    # What the tests hold is the core's to judge: the record is read, the spec is refused.
    bad = Problem.from_dict({**CODE, "tests": {"inputs": ["1"], "outputs": ["1"], "fn_name": 3}})
    assert "fn_name" in (spec_error(bad.tests) or "")
    asserts = Problem.from_dict({**CODE, "tests": {"asserts": "assert f(1) == 1"}})
    assert asserts.tests == {"asserts": "assert f(1) == 1"}


def test_numeric_answers_become_exact_text() -> None:
    assert Problem.from_dict({**MATH, "answer": 70.0}).answer == "70"
    assert Problem.from_dict({**MATH, "answer": 2.5}).answer == "2.5"
    assert Problem.from_dict({**MATH, "answer": 204}).answer == "204"
    with pytest.raises(RecordError, match="'answer' must be a string or a number"):
        Problem.from_dict({**MATH, "answer": False})


def test_record_kind_is_detected() -> None:
    assert type(record_from_dict(MATH)) is Problem
    assert type(record_from_dict(SAMPLE)) is Sample
    example = {
        "id": "x",
        "domain": "math",
        "source": "s",
        "messages": [{"role": "user", "content": "hi"}],
    }
    assert type(record_from_dict(example)) is Example
    with pytest.raises(RecordError, match=r"'messages\[0\]' must be an object"):
        record_from_dict({**example, "messages": [{"role": "user"}]})
