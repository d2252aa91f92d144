"""Math verdicts against labeled data: the hand-written set and recorded model outputs."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sfstream import check_math

DATA = Path(__file__).parent / "data"
LABELED = DATA / "math_labeled.jsonl"
DISAGREEMENTS = DATA / "recorded_grade_disagreements.jsonl"

#: Recorded model outputs with the grades their evaluator gave (``score``, one per sample).
RECORDED = [
    "math500/Qwen2.5-14B-Instruct_test_qwen25-math-cot_-1_seed0_t0.0_s0_e-1.jsonl",
    "math500/gemma-2-27b-it_test_qwen25-math-cot_-1_seed0_t0.0_s0_e-1.jsonl",
    "aime24/Qwen2.5-14B-Instruct_test_qwen25-math-cot_-1_seed0_t0.0_s0_e-1.jsonl",
    "aime24/Sky-T1-math-correct-5K-14B_test_Sky-T1_-1_seed0_t0.0_s0_e-1.jsonl",
    "amc23/Qwen2.5-14B-Instruct_test_qwen25-math-cot_-1_seed0_t0.0_s0_e-1.jsonl",
    "math/qwen2.5-math_eval_rm_maj_example_math_cot_100.jsonl",
]


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_labeled_set_is_broad() -> None:
    rows = load_jsonl(LABELED)
    assert len(rows) >= 300
    by_category = Counter(r["category"] for r in rows)
    for category, n in by_category.items():
        if category in {"extraction", "status"}:
            continue
        expected = {r["expected"] for r in rows if r["category"] == category}
        assert {"correct", "wrong_answer"} <= expected, (category, n)


@pytest.mark.timeout(120)
def test_labeled_set() -> None:
    rows = load_jsonl(LABELED)
    failures = []
    for row in rows:
        verdict = check_math(
            row["completion"], row["gold"], finish_reason=row.get("finish_reason"), timeout=5.0
        )
        if verdict.status != row["expected"]:
            failures.append(
                (row["category"], row["gold"], verdict.extracted, verdict.status, row["expected"])
            )
    for failure in failures:
        print("labeled-set failure:", failure)
    accuracy = 1 - len(failures) / len(rows)
    print(f"labeled set: {len(rows) - len(failures)}/{len(rows)} ({accuracy:.3f})")
    assert accuracy >= 0.98, failures


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", RECORDED)
def test_recorded_grades(shared_data: Path, name: str) -> None:
    """Every disagreement with a recorded grade is a known case where that grade is wrong."""
    path = shared_data / "llm_outputs" / name
    if not path.is_file():
        pytest.skip(f"{path} not present")
    known = {(d["idx"], d["sample"]): d for d in load_jsonl(DISAGREEMENTS) if d["file"] == name}
    total = agree = 0
    unexpected = []
    seen = set()
    for row in load_jsonl(path):
        gold = str(row["answer"])
        for k, (completion, recorded) in enumerate(zip(row["code"], row["score"], strict=True)):
            verdict = check_math(completion, gold)
            total += 1
            if verdict.correct == bool(recorded):
                agree += 1
                continue
            case = known.get((row["idx"], k))
            if case is None or case["verdict"] != verdict.status:
                unexpected.append((row["idx"], k, gold, verdict.extracted, verdict.status))
            seen.add((row["idx"], k))
    print(f"{name}: agreement {agree}/{total} ({agree / total:.3f})")
    assert not unexpected, unexpected
    # The list stays current: every kept case still disagrees.
    assert set(known) == seen, set(known) ^ seen
    # gemma-2-27b's recorded grades miss unicode roots, \approx and equal values in other
    # forms (each case is explained in the list), so agreement there is about 0.97.
    assert agree / total >= 0.96


def test_disagreements_have_reasons() -> None:
    for case in load_jsonl(DISAGREEMENTS):
        assert case["reason"] and len(case["reason"]) > 10, case
