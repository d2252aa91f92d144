"""Judge modes and special-judge checkers on real rows of every code source.

The rows come from the public datasets (through the ``shared_data`` fixture, via ``collect``, so
they carry the judge mode collect writes). Where a row has no reference solution, the program
under test answers from a table built from the row's own expected outputs, reshaped the way
the test needs; the comparison under test sees real expected outputs either way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sfstream import _core, run_tests
from sfstream.collect import iter_problems
from sfstream.collect.code_tests import SOURCE_JUDGES
from sfstream.errors import InvalidInputError
from sfstream.records import Problem, spec_error


def _problem(data: Path, source: str, ident: str) -> Problem:
    for p in iter_problems(source, data_dir=data):
        if p.id == ident:
            return p
    raise AssertionError(f"{ident} not in {source}")


def _tests(p: Problem, **changes: Any) -> dict[str, Any]:
    assert p.tests is not None
    tests = {**p.tests, **changes}
    return {k: v for k, v in tests.items() if v is not None}


def _table_program(answers: dict[str, str]) -> str:
    """A program that prints the answer recorded for its exact stdin."""
    return (
        "import sys\n"
        f"ANSWERS = {answers!r}\n"
        "sys.stdout.write(ANSWERS[sys.stdin.buffer.read().decode()])\n"
    )


def _reshaped(p: Problem, reshape: Any) -> str:
    assert p.tests is not None
    return _table_program(
        {i: reshape(o) for i, o in zip(p.tests["inputs"], p.tests["outputs"], strict=True)}
    )


def _status(program: str, tests: dict[str, Any]) -> str:
    return run_tests(program, tests, time_limit=10.0).status


# ------------------------------------------------------------------------- collected modes


@pytest.mark.parametrize(
    ("source", "judge"),
    [
        ("apps", "apps"),
        ("code_contests", "tokens+float"),
        ("codeforces", "tokens+float"),
        ("livecodebench", "lines+float"),
        ("humaneval", None),
        ("mbpp", None),
    ],
)
def test_collect_writes_each_sources_judge(shared_data: Path, source: str, judge: str) -> None:
    problems = list(iter_problems(source, data_dir=shared_data))
    assert problems
    assert {(p.tests or {}).get("judge") for p in problems} == {judge}
    assert SOURCE_JUDGES.get(source) == judge
    for p in problems[:20]:
        _core.validate_tests(json.dumps(p.tests))


# ------------------------------------------------------------------------------------ APPS


def test_apps_call_based_unwrapping_only_under_its_judge(shared_data: Path) -> None:
    # APPS stores is_prime's expected values as [False], [True], ...; its harness accepts the
    # bare value, and so does the apps judge. Without the judge the comparison is strict.
    p = _problem(shared_data, "apps", "apps/train/4184")
    assert p.tests is not None and p.tests["outputs"][0] == [False]
    assert p.solution is not None
    assert _status(p.solution, _tests(p)) == "correct"
    strict = run_tests(p.solution, _tests(p, judge=None), time_limit=10.0)
    assert strict.status == "wrong_answer"
    assert strict.detail == 'case 1: expected "[false]", got "false"'
    for judge in ("lines", "lines+float", "tokens", "tokens+float", "exact"):
        assert _status(p.solution, _tests(p, judge=judge)) == "wrong_answer", judge
    # A function that returns the wrapped value passes under every judge.
    wrapped = p.solution + "\n_inner = is_prime\ndef is_prime(n):\n    return [_inner(n)]\n"
    assert _status(wrapped, _tests(p, judge=None)) == "correct"


def test_apps_stdio_ignores_spacing_within_lines(shared_data: Path) -> None:
    p = _problem(shared_data, "apps", "apps/train/0001")
    assert p.tests is not None and p.tests["judge"] == "apps"
    assert p.solution is not None
    assert _status(p.solution, _tests(p)) == "correct"
    spaced = _reshaped(p, lambda o: "\n".join("  " + line + "  " for line in o.split("\n")))
    assert _status(spaced, _tests(p)) == "correct"
    assert _status(spaced, _tests(p, judge="exact")) == "wrong_answer"
    # Line breaks and values still count (APPS's set-based fallback would accept these).
    one_line = _reshaped(p, lambda o: " ".join(o.split()) + "\n")
    assert _status(one_line, _tests(p)) == "wrong_answer"
    shuffled = _reshaped(p, lambda o: "\n".join(reversed(o.split())) + "\n")
    assert _status(shuffled, _tests(p)) == "wrong_answer"


# --------------------------------------------------------------------- CodeContests, Codeforces


@pytest.mark.parametrize(
    ("source", "ident"),
    [("code_contests", "code_contests/test/159"), ("codeforces", "codeforces/test/125")],
)
def test_contest_sources_compare_token_sequences(
    shared_data: Path, source: str, ident: str
) -> None:
    p = _problem(shared_data, source, ident)
    assert p.tests is not None and p.tests["judge"] == "tokens+float"
    exact = _reshaped(p, lambda o: o)
    assert _status(exact, _tests(p)) == "correct"
    # One token per line: the same token sequence, so the contest judges accept it.
    per_line = _reshaped(p, lambda o: "\n".join(o.split()) + "\n")
    assert _status(per_line, _tests(p)) == "correct"
    assert _status(per_line, _tests(p, judge="lines")) == "wrong_answer"
    # A changed token or a missing one is wrong.
    changed = _reshaped(p, lambda o: " ".join([*o.split()[:-1], str(int(o.split()[-1]) + 1)]))
    assert _status(changed, _tests(p)) == "wrong_answer"
    shorter = _reshaped(p, lambda o: " ".join(o.split()[:-1]))
    assert _status(shorter, _tests(p)) == "wrong_answer"


def test_binary_strings_are_not_numbers(shared_data: Path) -> None:
    # Codeforces 171 answers with binary strings (01110, 0010): a number with the same value
    # but without the leading zeros is a different answer.
    p = _problem(shared_data, "codeforces", "codeforces/test/171")
    assert p.tests is not None and "0010" in p.tests["outputs"][0].split()
    assert _status(_reshaped(p, lambda o: o), _tests(p)) == "correct"
    stripped = _reshaped(p, lambda o: " ".join(t.lstrip("0") or "0" for t in o.split()))
    for judge in ("tokens+float", "lines+float", "apps"):
        assert _status(stripped, _tests(p, judge=judge)) == "wrong_answer", judge


def test_codeforces_case_of_words_matters_without_a_checker(shared_data: Path) -> None:
    # The statement accepts YES/NO in any case, which only a checker can know.
    p = _problem(shared_data, "codeforces", "codeforces/test/1")
    lower = _reshaped(p, lambda o: o.replace("YES", "yes"))
    assert _status(lower, _tests(p)) == "wrong_answer"


# --------------------------------------------------------------------------- LiveCodeBench


def _lcb_graded(data: Path) -> dict[str, dict[str, Any]]:
    name = "O1-Mini-2024-09-12_N1_Scenario.codegeneration_1_0.2_eval_all.json"
    records = json.loads((data / "llm_outputs" / "livecodebench" / name).read_text())
    return {r["question_id"]: r for r in records}


def _numeric(text: str) -> bool:
    return bool(text.split()) and all(t.lstrip("-").isdigit() for t in text.split())


def test_livecodebench_stdio_compares_numbers_as_decimals(shared_data: Path) -> None:
    graded = _lcb_graded(shared_data)
    problems = [
        p
        for p in iter_problems("livecodebench", data_dir=shared_data)
        if p.tests is not None
        and p.tests["fn_name"] is None
        and all(_numeric(o) and "\n" in o.strip() for o in p.tests["outputs"])
        and graded[p.meta["question_id"]]["graded_list"][0]
    ]
    assert problems
    p = problems[0]
    assert p.tests is not None and p.tests["judge"] == "lines+float"
    program = graded[p.meta["question_id"]]["code_list"][0]
    assert _status(program, _tests(p)) == "correct"
    # 7 printed as 7.0 is the same decimal (LiveCodeBench's rule); lines compares strings.
    floats = _reshaped(
        p, lambda o: "\n".join(" ".join(t + ".0" for t in line.split()) for line in o.split("\n"))
    )
    assert _status(floats, _tests(p)) == "correct"
    assert _status(floats, _tests(p, judge="lines")) == "wrong_answer"
    # LiveCodeBench keeps line structure.
    one_line = _reshaped(p, lambda o: " ".join(o.split()) + "\n")
    assert _status(one_line, _tests(p)) == "wrong_answer"
    assert _status(one_line, _tests(p, judge="tokens+float")) == "correct"


def test_livecodebench_functional_is_strict(shared_data: Path) -> None:
    graded = _lcb_graded(shared_data)
    problems = [
        p
        for p in iter_problems("livecodebench", data_dir=shared_data)
        if p.tests is not None
        and p.tests["fn_name"] is not None
        and all(isinstance(o, int) and not isinstance(o, bool) for o in p.tests["outputs"])
        and graded[p.meta["question_id"]]["graded_list"][0]
    ]
    assert problems
    p = problems[0]
    assert p.tests is not None
    program = graded[p.meta["question_id"]]["code_list"][0]
    assert _status(program, _tests(p)) == "correct"
    # A correct value inside a one-element list is not the value (LiveCodeBench compares ==).
    fn = p.tests["fn_name"]
    wrapped = program + (
        f"\n_Inner = Solution\nclass Solution:\n    def {fn}(self, *a):\n"
        f"        return [_Inner().{fn}(*a)]\n"
    )
    assert _status(wrapped, _tests(p)) == "wrong_answer"
    expected = _tests(p, outputs=[[o] for o in p.tests["outputs"]])
    assert _status(program, expected) == "wrong_answer"
    assert _status(program, {**expected, "judge": "apps"}) == "correct"


# ----------------------------------------------------------------------- HumanEval, MBPP


@pytest.mark.parametrize("source", ["humaneval", "mbpp"])
def test_assert_sources_take_no_judge(shared_data: Path, source: str) -> None:
    p = next(iter(iter_problems(source, data_dir=shared_data)))
    assert p.tests is not None and "judge" not in p.tests and p.solution is not None
    program = p.solution
    assert _status(program, _tests(p)) == "correct"
    for extra in ({"judge": "lines"}, {"checker": "def check(i, e, o):\n    return True\n"}):
        spec = {**p.tests, **extra}
        with pytest.raises(InvalidInputError, match='not to "asserts"'):
            run_tests(program, spec)
        record = Problem.from_dict({**p.to_dict(), "tests": spec})
        assert 'not to "asserts"' in (spec_error(record.tests) or "")


# ------------------------------------------------------------------------------- checkers

REARRANGE_CHECKER = """
def check(input, expected, output):
    cases = input.split()[1:]
    tokens = output.split()
    for s in cases:
        if not tokens:
            return False
        word = tokens.pop(0).upper()
        possible = len(set(s)) > 1
        if word == "NO":
            if possible:
                return False
        elif word == "YES":
            if not tokens:
                return False
            r = tokens.pop(0)
            if r == s or sorted(r) != sorted(s):
                return False
        else:
            return False
    return not tokens
"""

REARRANGE = """
for _ in range(int(input())):
    s = input().strip()
    if len(set(s)) == 1:
        print("no")
        continue
    r = "".join(sorted(s))
    if r == s:
        r = r[::-1]
    print("Yes")
    print(r)
"""


def test_codeforces_checker_accepts_any_valid_answer(shared_data: Path) -> None:
    # Codeforces 1: "rearrange s into r != s; YES/NO in any case; any valid r".
    p = _problem(shared_data, "codeforces", "codeforces/test/1")
    assert "any of them" in p.problem
    without = run_tests(REARRANGE, _tests(p))
    assert without.status == "wrong_answer"  # other letters, other case than the sample
    checked = _tests(p, checker=REARRANGE_CHECKER)
    Problem.from_dict({**p.to_dict(), "tests": checked})
    assert _status(REARRANGE, checked) == "correct"
    # The expected output itself passes the checker too.
    assert _status(_reshaped(p, lambda o: o), checked) == "correct"
    # A rearrangement equal to s, or a wrong verdict, is rejected.
    same = REARRANGE.replace('r = "".join(sorted(s))', "r = s").replace("r = r[::-1]", "pass")
    v = run_tests(same, checked)
    assert (v.status, v.detail) == ("wrong_answer", "case 1: checker rejected the output")
    always_no = "for _ in range(int(input())):\n    input()\n    print('NO')\n"
    assert _status(always_no, checked) == "wrong_answer"


MOD_CHECKER = """
def check(input, expected, output):
    numbers = input.split()
    pairs = [(int(numbers[i]), int(numbers[i + 1])) for i in range(1, len(numbers), 2)]
    answers = output.split()
    if len(answers) != len(pairs):
        return False
    for (x, y), n in zip(pairs, map(int, answers)):
        if not 1 <= n <= 2 * 10**18 or n % x != y % n:
            return False
    return True
"""


def test_code_contests_checker_accepts_any_valid_answer(shared_data: Path) -> None:
    # CodeContests 90: "find n with n mod x = y mod n; if there are several, output any".
    p = _problem(shared_data, "code_contests", "code_contests/test/90")
    assert "output any" in p.problem
    checked = _tests(p, checker=MOD_CHECKER, checker_time_limit=20.0)
    other = (
        "import sys\n"
        "data = sys.stdin.read().split()\n"
        "for i in range(1, len(data), 2):\n"
        "    x, y = int(data[i]), int(data[i + 1])\n"
        "    print(2 * x + y if x > y else y - (y % x) // 2)\n"
    )
    assert _status(other, _tests(p)) == "wrong_answer"  # 2x + y is not the recorded answer
    assert _status(other, checked) == "correct"
    off = other.replace("y - (y % x) // 2", "y - (y % x) // 2 + 1")
    assert _status(off, checked) == "wrong_answer"


def test_checker_crash_is_a_clear_failure(shared_data: Path) -> None:
    p = _problem(shared_data, "code_contests", "code_contests/test/90")
    # As many answers as test cases, but not numbers: int() raises inside the checker.
    v = run_tests("print('a b c d')\n", _tests(p, checker=MOD_CHECKER))
    assert v.status == "wrong_answer"
    assert v.detail is not None and v.detail.startswith("case 1: checker failed: ValueError")
    looping = "def check(i, e, o):\n    while True:\n        pass\n"
    v = run_tests("print(1)\n", _tests(p, checker=looping, checker_time_limit=0.5))
    assert v.status == "wrong_answer"
    assert v.detail is not None and "checker did not finish" in v.detail
