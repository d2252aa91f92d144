"""The native code checker (`sfstream._core.extract_program` / `run_tests`) on real data.

Real subprocesses, real HumanEval problems from the public datasets (skipped when absent).
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from typing import Any

import pytest
from public_data import public_data_dir
from sfstream import _core

DATA = public_data_dir()
HUMANEVAL = DATA / "humaneval" / "HumanEval.jsonl.gz"

needs_humaneval = pytest.mark.skipif(not HUMANEVAL.is_file(), reason="HumanEval not present")

SUM_TESTS = json.dumps({"inputs": ["1 2\n", "5 5\n"], "outputs": ["3\n", "10\n"]})
SUM = "a, b = map(int, input().split())\nprint(a + b)\n"


def run(program: str, tests: dict[str, Any] | str, **kw: Any) -> tuple[Any, ...]:
    text = tests if isinstance(tests, str) else json.dumps(tests)
    return tuple(_core.run_tests(program, text, **kw))


# --------------------------------------------------------------------------- extraction


def test_extract_program_seed_template() -> None:
    text = (
        "Step 1: read input\n```python\ndraft()\n```\n"
        "Here's my final solution:\n\n```python\nprint(42)\n```\n\n"
        "This code works by printing.\n```python\nexample()\n```\n"
    )
    assert _core.extract_program(text) == "print(42)\n"


def test_extract_program_last_python_block_and_none() -> None:
    assert _core.extract_program("```py\na()\n```\n```python\nb()\n```") == "b()\n"
    assert _core.extract_program("```python\nsolve()\n```\nInput:\n```\n3\n```") == "solve()\n"
    assert _core.extract_program("no code at all") is None
    assert _core.extract_program("```cpp\nint main() {}\n```") is None


# --------------------------------------------------------------------------- verdicts


def test_result_shape() -> None:
    status, passed, total, detail, cases = run(SUM, SUM_TESTS)
    assert (status, passed, total, detail) == ("correct", 2, 2, None)
    assert [c[:2] for c in cases] == [("correct", None), ("correct", None)]
    # Each case also carries its wall time, CPU time (seconds) and peak memory (bytes).
    for _, _, wall, cpu, rss in cases:
        assert wall > 0 and cpu >= 0 and rss > 0


def test_wrong_answer_detail_and_all_cases() -> None:
    prog = "print(3)"
    status, passed, total, detail, cases = run(prog, SUM_TESTS, stop_on_first_failure=False)
    assert (status, passed, total) == ("wrong_answer", 1, 2)
    assert detail == 'case 2: line 1: expected "10", got "3"'
    assert [c[0] for c in cases] == ["correct", "wrong_answer"]


@pytest.mark.parametrize(
    ("program", "status"),
    [
        ("def f(:\n", "syntax_error"),
        ("print(1 / 0)", "runtime_error"),
        ("while True:\n    pass\n", "timeout"),
        ("import time\ntime.sleep(30)\n", "timeout"),
        ("x = bytearray(4 * 1024 ** 3)\n", "memory_limit"),
        ("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", "output_limit"),
        ("", "no_code"),
    ],
)
def test_failure_statuses(program: str, status: str) -> None:
    start = time.monotonic()
    result = run(program, SUM_TESTS, time_limit=1.0, memory_mb=256)
    assert result[0] == status, result
    assert time.monotonic() - start < 3.0


def test_invalid_tests_raise() -> None:
    with pytest.raises(_core.InvalidInputError):
        run(SUM, "{not json")
    with pytest.raises(_core.InvalidInputError):
        run(SUM, {"inputs": ["1 2\n"], "outputs": []})
    with pytest.raises(_core.InvalidInputError):
        run(SUM, SUM_TESTS, time_limit=-1.0)


def test_call_based_and_asserts_styles() -> None:
    # APPS-shaped: expected values stored as [value], which the apps judge unwraps.
    tests = {
        "fn_name": "add",
        "inputs": [[1, 2], [[1], [2]]],
        "outputs": [[3], [[1, 2]]],
        "judge": "apps",
    }
    assert run("def add(a, b):\n    return a + b\n", tests)[0] == "correct"
    solution_cls = "class Solution:\n    def add(self, a: List[int], b):\n        return a + b\n"
    assert run(solution_cls, tests)[0] == "correct"
    assert run("def add(a, b):\n    return b + a\n", tests)[0] == "wrong_answer"
    asserts = {"asserts": "def check(c):\n    assert c(2, 2) == 4\n", "entry_point": "add"}
    assert run("def add(a, b):\n    return a + b\n", asserts)[0] == "correct"
    early_exit = "import sys\ndef add(a, b):\n    return 0\nsys.exit(0)\n"
    assert run(early_exit, asserts)[0] == "runtime_error"


@pytest.mark.parametrize(
    ("program", "expected"),
    [("def f():\n    return 5\n", [5]), ("def f():\n    return ['a']\n", [["a"]])],
)
def test_call_based_without_a_judge_is_strict(program: str, expected: Any) -> None:
    # A returned 5 is not [5], ['a'] is not [['a']]: only the apps judge unwraps.
    tests: dict[str, Any] = {"fn_name": "f", "inputs": [[]], "outputs": [expected]}
    status, _, _, detail, _ = run(program, tests)
    assert status == "wrong_answer" and detail is not None and "expected" in detail
    assert run(program, {**tests, "judge": "lines"})[0] == "wrong_answer"
    assert run(program, {**tests, "judge": "apps"})[0] == "correct"


JUDGE_SPECS: list[tuple[dict[str, Any], bool]] = [
    ({"inputs": ["1"], "outputs": ["1"]}, True),
    ({"inputs": ["1"], "outputs": ["1"], "judge": None, "checker": None}, True),
    *(({"inputs": ["1"], "outputs": ["1"], "judge": j}, True) for j in _core.JUDGE_MODES),
    ({"inputs": [[1]], "outputs": [1], "fn_name": "f", "judge": "apps"}, True),
    ({"inputs": ["1"], "outputs": ["1"], "judge": "token"}, False),
    ({"inputs": ["1"], "outputs": ["1"], "judge": "Lines"}, False),
    ({"inputs": ["1"], "outputs": ["1"], "judge": ["lines"]}, False),
    ({"inputs": ["1"], "outputs": ["1"], "checker": "def check(i, e, o): return True"}, True),
    ({"inputs": ["1"], "outputs": ["1"], "checker": 1}, False),
    ({"inputs": ["1"], "outputs": ["1"], "checker": ""}, False),
    (
        {
            "inputs": ["1"],
            "outputs": ["1"],
            "checker": "def check(i, e, o): return True",
            "checker_time_limit": 2,
        },
        True,
    ),
    (
        {
            "inputs": ["1"],
            "outputs": ["1"],
            "checker": "def check(i, e, o): return True",
            "checker_time_limit": -1,
        },
        False,
    ),
    ({"inputs": ["1"], "outputs": ["1"], "checker_time_limit": 2}, False),
    ({"asserts": "assert True"}, True),
    ({"asserts": "assert True", "judge": "lines"}, False),
    ({"asserts": "assert True", "checker": "def check(i, e, o): return True"}, False),
]


def _verdict_of(tests: dict[str, Any], program: str = "print(1)\n") -> Any:
    from sfstream.records import Sample
    from sfstream.verify import verify_sample

    sample = Sample.from_dict(
        {
            "id": "t/1",
            "domain": "code",
            "source": "t",
            "problem": "p",
            "tests": tests,
            "sample_index": 0,
            "model": "m",
            "completion": f"```python\n{program}```",
            "reasoning": None,
            "finish_reason": "stop",
            "usage": {},
        }
    )
    return verify_sample(sample)


@pytest.mark.parametrize(
    "checker",
    ["def check(i, e, o)\n", "def judge(i, e, o):\n    return True\n", "check = 1 +\n"],
)
def test_broken_checkers_are_refused(checker: str) -> None:
    # The record is read (only its shape is checked there); the core refuses the checker when
    # it first runs it in the sandbox, which the verify stage turns into a verdict.
    from sfstream.records import Problem

    tests = {"inputs": ["1\n"], "outputs": ["1\n"], "checker": checker}
    record = {"id": "t/1", "domain": "code", "source": "t", "problem": "p", "tests": tests}
    assert Problem.from_dict(record).tests == tests
    with pytest.raises(_core.InvalidInputError, match="checker"):
        run("print(1)\n", tests)
    verdict = _verdict_of(tests)
    assert (verdict.status, verdict.correct) == ("invalid_tests", False)
    assert "checker" in verdict.detail


@pytest.mark.parametrize(("tests", "valid"), JUDGE_SPECS)
def test_one_rule_set_for_a_valid_spec(tests: dict[str, Any], valid: bool) -> None:
    """Records check only the shape; the core is the one judge of a spec, and a malformed
    spec is the verdict invalid_tests, never an exception."""
    from sfstream.records import Problem, spec_error

    record = {"id": "t/1", "domain": "code", "source": "t", "problem": "p", "tests": tests}
    Problem.from_dict(record)
    verdict = _verdict_of(tests)
    if valid:
        _core.validate_tests(json.dumps(tests))
        assert spec_error(tests) is None
        assert verdict.status != "invalid_tests"
    else:
        with pytest.raises(_core.InvalidInputError) as info:
            _core.validate_tests(json.dumps(tests))
        assert spec_error(tests) == str(info.value)
        assert verdict.status == "invalid_tests" and str(info.value) in verdict.detail


@pytest.mark.parametrize(
    "tests",
    [
        {"inputs": [], "outputs": [], "fn_name": None},
        {"inputs": [[1]], "outputs": [1], "fn_name": ""},
        {"asserts": "assert f(1) == 1", "entry_point": 5},
        {"inputs": ["1"], "outputs": ["1", "2"]},
        {"neither": True},
    ],
)
def test_specs_the_records_layer_used_to_accept_are_verdicts(tests: dict[str, Any]) -> None:
    verdict = _verdict_of(tests)
    assert verdict.status == "invalid_tests" and verdict.detail
    no_code = _verdict_of(tests, program="")
    assert no_code.status == "invalid_tests"


def test_explicit_python_path() -> None:
    import sys

    assert run(SUM, SUM_TESTS, python=sys.executable)[0] == "correct"
    with pytest.raises(_core.SandboxError):
        run(SUM, SUM_TESTS, python="/nonexistent/python3")


# --------------------------------------------------------------------------- real data


# APPS reference and generated solutions: test_sandbox_real_data.py.


def humaneval_rows(n: int = 20) -> list[dict[str, Any]]:
    if not HUMANEVAL.is_file():
        return []
    with gzip.open(HUMANEVAL, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return rows[:: max(1, len(rows) // n)][:n]


@needs_humaneval
@pytest.mark.parametrize("row", humaneval_rows(), ids=lambda r: r["task_id"])
def test_humaneval_canonical_solutions(row: dict[str, Any]) -> None:
    program = row["prompt"] + row["canonical_solution"]
    asserts = {"asserts": row["test"] + f"\ncheck({row['entry_point']})\n"}
    assert run(program, asserts)[:3] == ("correct", 1, 1)
    # The same tests through entry_point, and a wrong body that must fail.
    via_entry = {"asserts": row["test"], "entry_point": row["entry_point"]}
    assert run(program, via_entry)[0] == "correct"
    assert run(row["prompt"] + "    return None\n", via_entry)[0] != "correct"


# --------------------------------------------------------------------------- concurrency


def test_four_threads_at_once() -> None:
    results: dict[int, tuple[Any, ...]] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            program = SUM if i % 2 == 0 else "print(0)"
            for _ in range(5):
                results[i] = run(program, SUM_TESTS)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert all(not t.is_alive() for t in threads)
    assert [results[i][0] for i in range(4)] == [
        "correct",
        "wrong_answer",
        "correct",
        "wrong_answer",
    ]
    assert time.monotonic() - start < 30


def test_gil_is_released_while_running() -> None:
    # A slow check in one thread must not block Python code in another.
    done = threading.Event()
    ticks = 0

    def slow() -> None:
        run("import time\ntime.sleep(0.8)\nprint(3)\n", {"inputs": [""], "outputs": ["3"]})
        done.set()

    t = threading.Thread(target=slow)
    t.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.01)
    t.join()
    assert ticks > 20
