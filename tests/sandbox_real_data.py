"""Loads the real-data cases the sandbox is checked against (shared by tests and scripts)."""

from __future__ import annotations

import ast
import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sfstream.collect.code_tests import SOURCE_JUDGES

Case = tuple[str, str, dict[str, Any], bool]  # (id, program, tests, expected correct)


def humaneval_canonical(data: Path) -> Iterator[Case]:
    with gzip.open(data / "humaneval" / "HumanEval.jsonl.gz", "rt") as f:
        for line in f:
            r = json.loads(line)
            tests = {"asserts": r["test"], "entry_point": r["entry_point"]}
            yield r["task_id"], r["prompt"] + r["canonical_solution"], tests, True


def mbpp_references(data: Path) -> Iterator[Case]:
    """MBPP's reference solutions with their asserts, as collect makes the problems."""
    from sfstream.collect import iter_problems

    for p in iter_problems("mbpp", data_dir=data):
        assert p.solution is not None and p.tests is not None
        yield p.id, p.solution, dict(p.tests), True


def reflexion_humaneval(data: Path) -> Iterator[Case]:
    path = data / "llm_outputs" / "humaneval" / "reflexion_humaneval_py_pass_at_1.jsonl"
    for line in path.read_text().splitlines():
        r = json.loads(line)
        tests = {"asserts": r["test"], "entry_point": r["entry_point"]}
        yield r["task_id"], r["prompt"] + r["solution"], tests, bool(r["is_solved"])


def reflexion_mbpp(data: Path) -> Iterator[Case]:
    path = data / "llm_outputs" / "mbpp" / "mbpp-py._reflexion_5_gpt-4_pass_at_k_1_py.jsonl"
    for line in path.read_text().splitlines():
        r = json.loads(line)
        tests = {"asserts": r["test"], "entry_point": None}
        yield r["name"], r["solution"], tests, bool(r["is_solved"])


def apps_tests(problem: Path) -> dict[str, Any]:
    """An APPS problem's tests with APPS's judge mode, as collect writes them."""
    tests = json.loads((problem / "input_output.json").read_text())
    return {**tests, "judge": SOURCE_JUDGES["apps"]}


def apps_references(data: Path) -> Iterator[Case]:
    for problem in sorted((data / "apps" / "train").iterdir()):
        tests = apps_tests(problem)
        for i, code in enumerate(json.loads((problem / "solutions.json").read_text())):
            yield f"apps/{problem.name}/{i}", code, tests, True


def apps_generated(data: Path) -> Iterator[Case]:
    """CodeRL's model-generated APPS programs with their results under the APPS harness
    (True = passed; False, -1, -2 = wrong answer, runtime error, compile error)."""
    for problem in sorted((data / "apps" / "train").iterdir()):
        tests = apps_tests(problem)
        for i, gen in enumerate(json.loads((problem / "gen_solutions.json").read_text())):
            yield f"apps/{problem.name}/gen{i}", gen["code"], tests, gen["result"] is True


def livecodebench_tests(problem: dict[str, Any]) -> dict[str, Any]:
    """LiveCodeBench tests in the APPS shape (functional tests become call-based), with
    LiveCodeBench's judge mode."""
    raw = problem["tests"]
    cases = json.loads(raw) if isinstance(raw, str) else raw
    judge = SOURCE_JUDGES["livecodebench"]
    if cases[0].get("testtype") == "functional":
        names = re.findall(r"def\s+(\w+)\s*\(", problem["starter_code"])
        return {
            "fn_name": names[-1],
            "inputs": [[json.loads(a) for a in c["input"].split("\n") if a] for c in cases],
            "outputs": [json.loads(c["output"]) for c in cases],
            "judge": judge,
        }
    return {
        "inputs": [c["input"] for c in cases],
        "outputs": [c["output"] for c in cases],
        "judge": judge,
    }


def livecodebench_failing_test(metadata: str, functional: bool) -> tuple[Any, Any] | None:
    """The hidden test LiveCodeBench recorded for a failing program (input, expected output),
    or None when its record is cut short ("...(truncated)...") or has none."""
    meta = json.loads(metadata)
    inputs, expected = meta.get("inputs"), meta.get("expected")
    if not isinstance(inputs, str) or not isinstance(expected, str):
        return None
    if "(truncated)" in inputs or "(truncated)" in expected:
        return None
    if not functional:
        return inputs, expected
    # The arguments are recorded as a Python list literal; the result as JSON or a literal.
    try:
        result = json.loads(expected)
    except ValueError:
        result = ast.literal_eval(expected)
    return ast.literal_eval(inputs), result


def livecodebench_o1mini(data: Path) -> Iterator[Case]:
    """o1-mini's graded programs, tested on the public tests plus, for a recorded failure, the
    hidden test it failed when LiveCodeBench's record of that test is complete."""
    problems = json.loads((data / "livecodebench" / "test.json").read_text())
    by_text = {p["problem"]: p for p in problems}
    name = "O1-Mini-2024-09-12_N1_Scenario.codegeneration_1_0.2_eval_all.json"
    for r in json.loads((data / "llm_outputs" / "livecodebench" / name).read_text()):
        problem = by_text.get(r["question_content"])
        if problem is None:
            continue
        tests = livecodebench_tests(problem)
        passed = bool(r["graded_list"][0])
        functional = "fn_name" in tests
        hidden = None if passed else livecodebench_failing_test(r["metadata"][0], functional)
        if hidden is not None:
            tests["inputs"].append(hidden[0])
            tests["outputs"].append(hidden[1])
        yield f"lcb/{r['question_id']}", r["code_list"][0], tests, passed
