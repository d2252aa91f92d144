"""The code datasets: APPS, CodeContests, Codeforces, LiveCodeBench, HumanEval and MBPP."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sfstream.collect.code_tests import (
    apps_tests,
    humaneval_tests,
    judged,
    mbpp_problem,
    mbpp_tests,
    tests_from_case_list,
)
from sfstream.collect.files import iter_jsonl, json_rows, read_json, read_text
from sfstream.collect.rows import (
    ProblemDict,
    Row,
    RowError,
    clean_meta,
    maybe_json,
    str_or_none,
)
from sfstream.collect.specs import (
    DatasetSpec,
    HfSource,
    json_loader,
    jsonl_loader,
    map_row,
    same_splits,
)
from sfstream.errors import ConfigError

__all__ = ["CODE_DATASETS"]

log = logging.getLogger("sfstream.collect")


def _load_apps(data_dir: Path, split: str) -> Iterator[ProblemDict | None] | None:
    root = data_dir / "apps" / split
    if not root.is_dir():
        return None

    def optional_json(path: Path) -> Any:
        return read_json(path) if path.is_file() else None

    def gen() -> Iterator[ProblemDict | None]:
        for pdir in sorted(d for d in root.iterdir() if d.is_dir()):
            question = pdir / "question.txt"
            if not question.is_file():
                log.warning("apps: %s has no question.txt; skipped", pdir)
                yield None
                continue
            try:
                tests = apps_tests(optional_json(pdir / "input_output.json"))
            except RowError as exc:
                raise ConfigError(f"{pdir / 'input_output.json'}: {exc}") from None
            if tests is None:
                log.info("apps: %s has no tests; skipped", pdir.name)
                yield None
                continue
            solutions = optional_json(pdir / "solutions.json")
            meta_in = optional_json(pdir / "metadata.json") or {}
            starter = pdir / "starter_code.py"
            yield {
                "id": f"apps/{split}/{pdir.name}",
                "domain": "code",
                "source": "apps",
                "problem": read_text(question),
                "tests": judged(tests, "apps"),
                "starter_code": str_or_none(read_text(starter)) if starter.is_file() else None,
                "solution": solutions[0] if isinstance(solutions, list) and solutions else None,
                "meta": clean_meta(
                    {
                        "difficulty": meta_in.get("difficulty"),
                        "url": meta_in.get("url"),
                        "split": split,
                        "apps_id": pdir.name,
                    }
                ),
            }

    return gen()


def _map_apps_hf(row: Row, index: int, split: str) -> ProblemDict | None:
    pid = row.get("problem_id", index)
    apps_id = f"{pid:04d}" if isinstance(pid, int) else str(pid)
    tests = apps_tests(row.get("input_output"))
    if tests is None:
        return None
    solutions = maybe_json(row.get("solutions"))
    return {
        "id": f"apps/{split}/{apps_id}",
        "domain": "code",
        "source": "apps",
        "problem": row["question"],
        "tests": judged(tests, "apps"),
        "starter_code": str_or_none(row.get("starter_code")),
        "solution": solutions[0] if isinstance(solutions, list) and solutions else None,
        "meta": clean_meta(
            {
                "difficulty": row.get("difficulty"),
                "url": row.get("url"),
                "split": split,
                "apps_id": apps_id,
            }
        ),
    }


def _map_code_contests(row: Row, index: int, split: str) -> ProblemDict | None:
    tests = apps_tests(row.get("tests"))
    if tests is None:
        return None
    return {
        "id": f"code_contests/{split}/{index}",
        "domain": "code",
        "source": "code_contests",
        "problem": row["problem"],
        "tests": judged(tests, "code_contests"),
        "starter_code": None,
        "solution": None,
        "meta": {},
    }


# CodeContests' difficulty enum: 1-6 named levels, then Codeforces-style letters A..V.
_CC_DIFFICULTY: dict[Any, str] = {
    1: "easy",
    2: "medium",
    3: "hard",
    4: "harder",
    5: "hardest",
    6: "external",
    **{7 + i: chr(ord("A") + i) for i in range(22)},
}


def _map_code_contests_hf(row: Row, index: int, split: str) -> ProblemDict | None:
    inputs: list[str] = []
    outputs: list[str] = []
    for key in ("public_tests", "private_tests"):
        block = row.get(key) or {}
        inputs += list(block.get("input") or [])
        outputs += list(block.get("output") or [])
    if not inputs:
        return None
    return {
        "id": f"code_contests/{split}/{index}",
        "domain": "code",
        "source": "code_contests",
        "problem": row["description"],
        "tests": judged({"inputs": inputs, "outputs": outputs, "fn_name": None}, "code_contests"),
        "starter_code": None,
        "solution": None,
        "meta": clean_meta(
            {
                "name": row.get("name"),
                "cf_rating": row.get("cf_rating") or None,
                "difficulty": _CC_DIFFICULTY.get(row.get("difficulty")),
            }
        ),
    }


def _map_codeforces(row: Row, index: int, split: str) -> ProblemDict | None:
    cases = row.get("tests")
    if not cases:
        return None
    tests, _ = tests_from_case_list(list(cases), None)
    return {
        "id": f"codeforces/{split}/{index}",
        "domain": "code",
        "source": "codeforces",
        "problem": row["problem"],
        "tests": judged(tests, "codeforces"),
        "starter_code": None,
        "solution": None,
        "meta": {},
    }


_LCB_GRADED = (
    "llm_outputs/livecodebench/O1-Mini-2024-09-12_N1_Scenario.codegeneration_1_0.2_eval_all.json"
)
_LCB_META = (
    "question_title",
    "platform",
    "question_id",
    "contest_id",
    "contest_date",
    "difficulty",
)


def _lcb_record(
    row: Row, index: int, split: str, info: Mapping[str, Any] | None, cases: Any, problem: str
) -> ProblemDict | None:
    starter = str_or_none(row.get("starter_code"))
    if not cases:
        return None
    try:
        tests, extra = tests_from_case_list(list(cases), starter)
    except RowError as exc:
        log.warning("livecodebench: problem %d skipped: %s", index, exc)
        return None
    meta: dict[str, Any] = {}
    if info:
        meta = {("title" if k == "question_title" else k): info.get(k) for k in _LCB_META}
    meta.update(extra)
    meta["index"] = index
    qid = info.get("question_id") if info else None
    return {
        "id": f"livecodebench/{split}/{qid if qid else index}",
        "domain": "code",
        "source": "livecodebench",
        "problem": problem,
        "tests": judged(tests, "livecodebench"),
        "starter_code": starter,
        "solution": None,
        "meta": clean_meta(meta),
    }


def _load_livecodebench(data_dir: Path, split: str) -> Iterator[ProblemDict | None] | None:
    path = data_dir / "livecodebench" / f"{split}.json"
    if not path.is_file():
        return None

    def gen() -> Iterator[ProblemDict | None]:
        # The rLLM copy has no ids; LiveCodeBench's own submission file (when the data dir
        # has it) names every problem, joined on the statement text.
        graded = data_dir / _LCB_GRADED
        info: dict[str, Mapping[str, Any]] = {}
        if graded.is_file():
            try:
                for rec in json_rows(graded):
                    if isinstance(rec, Mapping) and isinstance(rec.get("question_content"), str):
                        info[rec["question_content"]] = rec
            except ConfigError as exc:
                log.warning("livecodebench: ignoring %s: %s", graded, exc)
        for index, row in enumerate(json_rows(path)):
            where = f"{path}: row {index + 1}"
            if not isinstance(row, Mapping) or not isinstance(row.get("problem"), str):
                raise ConfigError(f"{where}: expected an object with a 'problem' string")
            yield _lcb_record(
                row, index, split, info.get(row["problem"]), row.get("tests"), row["problem"]
            )

    return gen()


def _map_livecodebench_hf(row: Row, index: int, split: str) -> ProblemDict | None:
    return _lcb_record(
        row, index, split, row, maybe_json(row.get("public_test_cases")), row["question_content"]
    )


def _map_humaneval(row: Row, index: int, split: str) -> ProblemDict:
    task = str(row.get("task_id", index))
    number = task.rsplit("/", 1)[-1]
    prompt = row["prompt"]
    return {
        "id": f"humaneval/{split}/{number}",
        "domain": "code",
        "source": "humaneval",
        "problem": prompt,
        "tests": humaneval_tests(row["test"], row["entry_point"]),
        "starter_code": prompt,
        "solution": prompt + row["canonical_solution"] if row.get("canonical_solution") else None,
        "meta": {"task_id": task},
    }


MBPP_SPLITS = {"test": (11, 510), "train": (601, 974), "validation": (511, 600), "prompt": (1, 10)}


def _map_mbpp(row: Row, index: int, split: str) -> ProblemDict | None:
    task_id = row["task_id"]
    test_list = [str(t) for t in row.get("test_list") or []]
    if not test_list:
        return None
    code = row.get("code")
    return {
        "id": f"mbpp/{split}/{task_id}",
        "domain": "code",
        "source": "mbpp",
        "problem": mbpp_problem(row["text"], test_list),
        "tests": mbpp_tests(test_list, str_or_none(row.get("test_setup_code"))),
        "starter_code": None,
        "solution": code.replace("\r\n", "\n") if isinstance(code, str) else None,
        "meta": {"task_id": task_id, "text": row["text"]},
    }


def _load_mbpp(data_dir: Path, split: str) -> Iterator[ProblemDict | None] | None:
    path = data_dir / "mbpp" / "mbpp.jsonl"
    if not path.is_file():
        return None
    lo, hi = MBPP_SPLITS[split]

    def gen() -> Iterator[ProblemDict | None]:
        for index, (lineno, row) in enumerate(iter_jsonl(path)):
            task = row.get("task_id") if isinstance(row, Mapping) else None
            if isinstance(task, int) and not lo <= task <= hi:
                continue
            yield map_row(_map_mbpp, row, index, split, f"{path}: line {lineno}")

    return gen()


#: The code datasets, in the order help texts list them.
CODE_DATASETS: tuple[DatasetSpec, ...] = (
    DatasetSpec(
        "apps",
        "APPS coding problems (original per-problem layout)",
        ("train", "test"),
        _load_apps,
        HfSource("codeparrot/apps", "all", same_splits("train", "test"), _map_apps_hf),
        license="MIT",
        rights="statements © Codeforces, AtCoder, LeetCode and Codewars",
    ),
    DatasetSpec(
        "code_contests",
        "DeepMind CodeContests test split (165 problems)",
        ("test",),
        json_loader("code_contests/test.json", _map_code_contests),
        HfSource("deepmind/code_contests", None, same_splits("test"), _map_code_contests_hf),
        license="CC-BY-4.0",
        rights="statements © Codeforces, AtCoder, CodeChef, Aizu and HackerEarth",
    ),
    DatasetSpec(
        "codeforces",
        "Codeforces problems with sample tests (rLLM test set)",
        ("test",),
        json_loader("codeforces/test.json", _map_codeforces),
        rights="statements © Codeforces",
    ),
    DatasetSpec(
        "livecodebench",
        "LiveCodeBench v5 window, public tests",
        ("test",),
        _load_livecodebench,
        HfSource(
            "livecodebench/code_generation_lite", None, same_splits("test"), _map_livecodebench_hf
        ),
        rights="statements © AtCoder, LeetCode and Codeforces",
    ),
    DatasetSpec(
        "humaneval",
        "OpenAI HumanEval (164 problems)",
        ("test",),
        jsonl_loader("humaneval/HumanEval.jsonl.gz", _map_humaneval),
        HfSource("openai/openai_humaneval", None, same_splits("test"), _map_humaneval),
        license="MIT",
    ),
    DatasetSpec(
        "mbpp",
        "MBPP (test = task ids 11-510)",
        ("test", "train", "validation", "prompt"),
        _load_mbpp,
        HfSource(
            "google-research-datasets/mbpp",
            "full",
            same_splits("test", "train", "validation", "prompt"),
            _map_mbpp,
        ),
        license="CC-BY-4.0",
    ),
)
