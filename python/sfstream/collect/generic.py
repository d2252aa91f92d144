"""Rows of any dataset mapped to problems by common field names (local files, ``hf:``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sfstream.collect.code_tests import (
    apps_tests,
    humaneval_tests,
    mbpp_tests,
    tests_from_case_list,
)
from sfstream.collect.rows import (
    ProblemDict,
    Row,
    RowError,
    clean_meta,
    gsm8k_split,
    last_boxed,
    maybe_json,
    str_or_none,
)

__all__ = ["is_problem_record", "map_generic_row"]

PROBLEM_KEYS = ("problem", "question", "prompt", "instruction", "question_content")
ANSWER_KEYS = ("answer", "final_answer", "gold", "target")
META_KEYS = (
    "subject",
    "type",
    "level",
    "difficulty",
    "year",
    "url",
    "contest",
    "problem_number",
    "platform",
    "title",
    "question_title",
    "contest_id",
    "contest_date",
    "cf_rating",
    "tags",
)
ORIGINAL_ID_KEYS = ("id", "task_id", "problem_id", "question_id", "unique_id", "idx", "name")
_PROBLEM_RECORD_KEYS = ("id", "domain", "source", "problem")


def is_problem_record(row: Row) -> bool:
    """True for a row that is already a Problem record (it names its id, domain and source)."""
    return all(k in row for k in _PROBLEM_RECORD_KEYS)


def _first(row: Row, keys: Iterable[str]) -> tuple[str | None, Any]:
    for key in keys:
        value = row.get(key)
        if value is not None and not (isinstance(value, str) and not value.strip()):
            return key, value
    return None, None


def _generic_tests(row: Row, starter: str | None) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Tests from a non-Problem row, and extra meta; (None, {}) when the row has none."""
    meta: dict[str, Any] = {}
    for key in ("tests", "input_output", "public_test_cases"):
        if key not in row:
            continue
        value = maybe_json(row[key])
        if value is None:
            continue
        if isinstance(value, Mapping):
            if "asserts" in value:
                return dict(value), meta
            return apps_tests(value), meta
        if isinstance(value, list):
            return tests_from_case_list(value, starter)
        if isinstance(value, str):
            return {"asserts": value}, meta
        raise RowError(f"field '{key}' must be an object, a list of cases or a JSON string")
    if isinstance(row.get("test"), str) and isinstance(row.get("entry_point"), str):
        return humaneval_tests(row["test"], row["entry_point"]), meta
    if isinstance(row.get("test_list"), list) and row["test_list"]:
        return mbpp_tests(
            [str(t) for t in row["test_list"]], str_or_none(row.get("test_setup_code"))
        ), meta
    return None, meta


def _generic_solution(row: Row) -> str | None:
    sol = row.get("solution")
    if isinstance(sol, str) and sol.strip():
        return sol
    sols = maybe_json(row.get("solutions"))
    if isinstance(sols, list) and sols and isinstance(sols[0], str):
        return sols[0]
    canonical, prompt = row.get("canonical_solution"), row.get("prompt")
    if isinstance(canonical, str) and isinstance(prompt, str):
        return prompt + canonical
    return None


def map_generic_row(row: Any, *, source: str, ident: str) -> ProblemDict:
    """Maps one row of an arbitrary dataset to a Problem dict by common field names.

    A row that already is a Problem record (``id``, ``domain``, ``source``, ``problem``) is
    returned unchanged. Otherwise: the statement is the first of ``problem``, ``question``,
    ``prompt``, ``instruction``; math rows take ``answer``/``final_answer``/``gold``/``target``
    (a GSM8K-style ``... #### 42`` keeps what follows ``####``; a ``\\boxed{}`` answer is
    unwrapped), or else the last ``\\boxed{}`` of ``solution``; code rows take ``tests`` or
    ``input_output`` (an object or a JSON string, or a list of input/output cases), or
    HumanEval (``test`` + ``entry_point``) or MBPP (``test_list``) tests. An explicit ``domain``
    is respected; otherwise it is code when there are tests, math when there is an answer.

    Args:
        row: The decoded row.
        source: Source name for the record.
        ident: Record id.

    Raises:
        RowError: the row is not an object, or has no statement or no answer/tests.
    """
    if not isinstance(row, Mapping):
        raise RowError(f"expected an object, got {type(row).__name__}")
    if is_problem_record(row):
        return dict(row)
    pkey, problem = _first(row, PROBLEM_KEYS)
    if not isinstance(problem, str):
        if problem is None:
            raise RowError(
                f"no problem statement (none of {', '.join(PROBLEM_KEYS)}; "
                f"fields: {', '.join(sorted(map(str, row))) or 'none'})"
            )
        raise RowError(f"field '{pkey}' must be a string")
    starter = str_or_none(row.get("starter_code"))
    domain = row.get("domain") if row.get("domain") in ("math", "code") else None
    solution = _generic_solution(row)

    tests: dict[str, Any] | None = None
    extra_meta: dict[str, Any] = {}
    if domain != "math":
        tests, extra_meta = _generic_tests(row, starter)

    answer: Any = None
    if domain != "code" and tests is None:
        _, answer = _first(row, ANSWER_KEYS)
        if isinstance(answer, str):
            split = gsm8k_split(answer)
            if split is not None:
                rationale, answer = split
                solution = solution or rationale
            elif "\\boxed" in answer:
                answer = last_boxed(answer) or answer
        if answer is None and solution is not None:
            answer = last_boxed(solution)

    if domain is None:
        domain = "code" if tests is not None else "math" if answer is not None else None
    if domain is None:
        raise RowError(
            "neither an answer (answer, final_answer, gold, target, or \\boxed{} in solution) "
            "nor tests (tests, input_output)"
        )
    if domain == "math" and answer is None:
        raise RowError("math row without an answer")
    if domain == "code" and tests is None:
        raise RowError("code row without tests")

    meta: dict[str, Any] = {}
    if isinstance(row.get("meta"), Mapping):
        meta.update(row["meta"])
    for key in META_KEYS:
        if key in row and key not in meta:
            meta["subject" if key == "type" else key] = row[key]
    _, original = _first(row, ORIGINAL_ID_KEYS)
    if original is not None and isinstance(original, str | int):
        meta.setdefault("original_id", original)
    if isinstance(row.get("source"), str):
        meta.setdefault("origin", row["source"])
    meta.update(extra_meta)

    out: ProblemDict = {
        "id": ident,
        "domain": domain,
        "source": source,
        "problem": problem,
        "solution": solution,
        "meta": clean_meta(meta),
    }
    if domain == "math":
        out["answer"] = answer
    else:
        out["tests"] = tests
        out["starter_code"] = starter
    return out
