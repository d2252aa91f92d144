"""Loads the real-data cases the sandbox is checked against (shared by tests and scripts)."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

Case = tuple[str, str, dict[str, Any], bool]  # (id, program, tests, expected correct)


def humaneval_canonical(data: Path) -> Iterator[Case]:
    with gzip.open(data / "humaneval" / "HumanEval.jsonl.gz", "rt") as f:
        for line in f:
            r = json.loads(line)
            tests = {"asserts": r["test"], "entry_point": r["entry_point"]}
            yield r["task_id"], r["prompt"] + r["canonical_solution"], tests, True


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


def apps_references(data: Path) -> Iterator[Case]:
    for problem in sorted((data / "apps" / "train").iterdir()):
        tests = json.loads((problem / "input_output.json").read_text())
        for i, code in enumerate(json.loads((problem / "solutions.json").read_text())):
            yield f"apps/{problem.name}/{i}", code, tests, True


def livecodebench_tests(problem: dict[str, Any]) -> dict[str, Any]:
    """LiveCodeBench tests in the APPS shape (functional tests become call-based)."""
    raw = problem["tests"]
    cases = json.loads(raw) if isinstance(raw, str) else raw
    if cases[0].get("testtype") == "functional":
        names = re.findall(r"def\s+(\w+)\s*\(", problem["starter_code"])
        return {
            "fn_name": names[-1],
            "inputs": [[json.loads(a) for a in c["input"].split("\n") if a] for c in cases],
            "outputs": [json.loads(c["output"]) for c in cases],
        }
    return {"inputs": [c["input"] for c in cases], "outputs": [c["output"] for c in cases]}


def livecodebench_o1mini(data: Path) -> Iterator[Case]:
    problems = json.loads((data / "livecodebench" / "test.json").read_text())
    by_text = {p["problem"]: p for p in problems}
    name = "O1-Mini-2024-09-12_N1_Scenario.codegeneration_1_0.2_eval_all.json"
    for r in json.loads((data / "llm_outputs" / "livecodebench" / name).read_text()):
        problem = by_text.get(r["question_content"])
        if problem is None:
            continue
        yield (
            f"lcb/{r['question_id']}",
            r["code_list"][0],
            livecodebench_tests(problem),
            bool(r["graded_list"][0]),
        )
