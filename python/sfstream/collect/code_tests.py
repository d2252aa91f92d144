"""Code problems' tests in the record format (docs/records.md), from the shapes the public
datasets use: APPS ``input_output``, lists of input/output cases (LiveCodeBench, Codeforces),
HumanEval ``check`` functions and MBPP assert lists; and each source's judge mode.
"""

from __future__ import annotations

import ast
import builtins
import json
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from sfstream.collect.rows import RowError, maybe_json

__all__ = [
    "SOURCE_JUDGES",
    "apps_tests",
    "humaneval_tests",
    "judged",
    "mbpp_problem",
    "mbpp_tests",
    "tests_from_case_list",
]

_METHOD = re.compile(r"^\s+def\s+(\w+)\s*\(\s*self\b", re.M)
_BUILTINS = frozenset(dir(builtins))


def _called_function(line: str) -> str | None:
    """The function an assert line tests: the first non-builtin it calls.

    ``assert int(f(5)) == 3`` gives ``f``.
    """
    try:
        tree = ast.parse(line.strip())
    except SyntaxError:
        return None
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    calls.sort(key=lambda n: (n.lineno, n.col_offset))
    names = [c.func.id for c in calls if isinstance(c.func, ast.Name)]
    for name in names:
        if name not in _BUILTINS:
            return name
    # A task may shadow a builtin (MBPP 126 defines ``sum``): then the outermost call.
    return names[0] if names else None


def _solution_method(starter_code: str | None) -> str | None:
    """The method a LeetCode-style ``class Solution`` stub asks for (the last one if several)."""
    if not starter_code or "class Solution" not in starter_code:
        return None
    names = [n for n in _METHOD.findall(starter_code) if n != "__init__"]
    return names[-1] if names else None


def _functional_args(text: str) -> list[Any]:
    """LiveCodeBench functional input: one JSON literal per line, one per positional argument."""
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def tests_from_case_list(
    cases: list[Any], starter_code: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Converts a list of ``{"input", "output"[, "testtype"]}`` cases to APPS tests.

    Stdin cases become ``{"inputs": [stdin], "outputs": [stdout], "fn_name": None}``.
    LiveCodeBench functional cases take ``fn_name`` from the ``class Solution`` method of
    ``starter_code``; each input is the list of arguments parsed from its newline-separated JSON
    literals, each output the parsed JSON value. A problem mixing both keeps the kind most cases
    have (stdin on a tie) and says how many it dropped.

    Returns:
        The tests and extra meta (``testtype``, and ``dropped_tests`` when some were dropped).

    Raises:
        RowError: the cases are malformed or the functional method cannot be found.
    """
    if not all(isinstance(c, Mapping) and "input" in c and "output" in c for c in cases):
        raise RowError("test cases must be objects with 'input' and 'output'")
    if not cases:
        raise RowError("no test cases")
    kinds = Counter(str(c.get("testtype") or "stdin") for c in cases)
    unknown = set(kinds) - {"stdin", "functional"}
    if unknown:
        raise RowError(f"unknown test type(s) {sorted(unknown)}")
    kind = "functional" if kinds["functional"] > kinds["stdin"] else "stdin"
    kept = [c for c in cases if str(c.get("testtype") or "stdin") == kind]
    meta: dict[str, Any] = {"testtype": kind}
    if len(kept) < len(cases):
        meta["dropped_tests"] = len(cases) - len(kept)
    if kind == "stdin":
        tests = {
            "inputs": [str(c["input"]) for c in kept],
            "outputs": [str(c["output"]) for c in kept],
            "fn_name": None,
        }
        return tests, meta
    fn_name = _solution_method(starter_code)
    if fn_name is None:
        raise RowError("functional tests but no 'class Solution' method in the starter code")
    try:
        inputs = [_functional_args(str(c["input"])) for c in kept]
        outputs = [json.loads(str(c["output"])) for c in kept]
    except ValueError as exc:
        raise RowError(f"functional test is not JSON: {exc}") from None
    return {"inputs": inputs, "outputs": outputs, "fn_name": fn_name}, meta


def apps_tests(value: Any) -> dict[str, Any] | None:
    """APPS ``input_output`` (object or JSON string) as tests, or None when there are none."""
    io = maybe_json(value)
    if io is None:
        return None
    if not isinstance(io, Mapping) or "inputs" not in io or "outputs" not in io:
        raise RowError("input_output must be an object with 'inputs' and 'outputs'")
    if not io["inputs"]:
        return None
    return {
        "inputs": list(io["inputs"]),
        "outputs": list(io["outputs"]),
        "fn_name": io.get("fn_name") or None,
    }


#: Each collected source's judge mode (``tests.judge``), taken from its official harness; see
#: the README's table. HumanEval and MBPP run asserts and compare no output.
SOURCE_JUDGES: dict[str, str] = {
    "apps": "apps",
    "code_contests": "tokens+float",
    "codeforces": "tokens+float",
    "livecodebench": "lines+float",
}


def judged(tests: dict[str, Any], source: str) -> dict[str, Any]:
    """``tests`` with the source's judge mode, unless the data names one already."""
    if tests.get("judge") is None:
        tests["judge"] = SOURCE_JUDGES[source]
    return tests


def humaneval_tests(test: str, entry_point: str) -> dict[str, Any]:
    return {"asserts": f"{test}\ncheck({entry_point})\n", "entry_point": entry_point}


def mbpp_tests(test_list: list[str], setup: str | None) -> dict[str, Any]:
    lines = [t.replace("\r\n", "\n") for t in test_list]
    asserts = "\n".join(lines) + "\n"
    if setup and setup.strip():
        asserts = setup.replace("\r\n", "\n").rstrip("\n") + "\n" + asserts
    tests: dict[str, Any] = {"asserts": asserts}
    for line in lines:
        name = _called_function(line)
        if name:
            tests["entry_point"] = name
            break
    return tests


def mbpp_problem(text: str, test_list: list[str]) -> str:
    # The MBPP paper's prompt: the task, then the tests the function must pass (they carry
    # the function name and signature, which the text alone does not give).
    shown = "\n".join(t.replace("\r\n", "\n") for t in test_list)
    return f"{text.strip()}\nYour code should pass these tests:\n\n{shown}\n"
