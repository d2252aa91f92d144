"""Draws the candidate pairs of the independent math evaluation set from recorded model outputs.

Every pair is a (completion, gold) taken as it was recorded: completions written by real models
(Qwen2.5-14B-Instruct, gemma-2-27b-it, Sky-T1, the Qwen2.5-Math example sampler, GPT-3 GSM8K
systems, ToRA-70B) and the gold answer of the dataset. Nothing is rewritten. Pairs are stratified
by the type of the gold answer, and split into a development half and a held-out half by a hash
of the problem (so both samples of one problem land in the same half) before anything is tuned.

The labels are added afterwards, by reading each pair, in ``tests/data/math_eval.jsonl``; this
script only reproduces the candidate list (``--out``), in the same order, from the data folder.

    python scripts/build_math_eval.py --data-dir DATA --out candidates.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

QWEN_COT = "_test_qwen25-math-cot_-1_seed0_t0.0_s0_e-1.jsonl"
MATH_FILES = {
    "math500/qwen2.5-14b": "math500/Qwen2.5-14B-Instruct" + QWEN_COT,
    "math500/gemma-2-27b": "math500/gemma-2-27b-it" + QWEN_COT,
    "aime24/qwen2.5-14b": "aime24/Qwen2.5-14B-Instruct" + QWEN_COT,
    "aime24/sky-t1-14b": "aime24/Sky-T1-math-correct-5K-14B_test_Sky-T1_-1_seed0_t0.0_s0_e-1.jsonl",
    "amc23/qwen2.5-14b": "amc23/Qwen2.5-14B-Instruct" + QWEN_COT,
    "math/qwen2.5-math-rm-example": "math/qwen2.5-math_eval_rm_maj_example_math_cot_100.jsonl",
}
GSM8K_GPT3 = "gsm8k/example_model_solutions.jsonl"
GSM8K_TORA = "gsm8k/tora-70b-v1.0_test_tora_-1_seed0_t0.0_s0_e1319.jsonl"
GPT3_SYSTEMS = ["6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification"]

INTEGER = re.compile(r"^-?\d{1,3}(,\d{3})*$|^-?\d+$")
DECIMAL = re.compile(r"^-?\d*\.\d+$")


def answer_type(gold: str) -> str:
    """The category of a gold answer, from its surface form (documented in the eval README)."""
    g = gold.strip().strip("$").strip()
    g = re.sub(r"^\\\$\s*", "", g).replace(",\\!", ",").replace("{,}", ",")
    if re.fullmatch(r"\d+_\{?\d+\}?", g):
        return "base_n"
    if g.endswith("\\%") or g.endswith("%"):
        return "percent"
    g = re.sub(r"^\\text\{\s*\(?([A-E])\)?\s*\}$", r"\1", g)
    if re.fullmatch(r"\(?[A-E]\)?", g):
        return "multiple_choice"
    if "matrix" in g or "\\begin{array}" in g:
        return "matrix"
    if INTEGER.fullmatch(g.replace("{,}", ",").replace("\\!", "")):
        return "integer"
    if DECIMAL.fullmatch(g):
        return "decimal"
    if (
        "\\infty" in g
        or "\\cup" in g
        or (
            re.match(r"^[\[(].*[\])]$", g)
            and (g[0] != g[-1].translate(str.maketrans(")]", "([")) or "\\infty" in g)
        )
    ):
        return "interval"
    if re.match(r"^\\?\{.*\\?\}$", g) and ("," in g or ";" in g):
        return "set"
    if re.match(r"^\\left\s*\(|^\(", g) and "," in g:
        return "tuple"
    if (
        "\\text{ and }" in g
        or re.search(r"\band\b", g)
        or re.fullmatch(r"[^()\[\]{}]*,[^()\[\]]*", g)
    ):
        return "multi_part"
    if re.fullmatch(r"-?\\d?frac\{\d+\}\{\d+\}|-?\d+/\d+|-?\\frac\d\d", g):
        return "fraction"
    if "\\sqrt" in g:
        return "radical"
    if re.search(r"\\text\{[A-Za-z ]{2,}\}", g) and not re.search(r"\d", g):
        return "text"
    if re.search(r"[A-Za-z]", g) or "\\pi" in g or "^" in g:
        return "expression"
    return "other"


def problem_split(key: str) -> str:
    return "dev" if int(hashlib.sha256(key.encode()).hexdigest(), 16) % 2 == 0 else "heldout"


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def candidates(data: Path) -> list[dict[str, Any]]:
    rng = random.Random(20261201)
    out: list[dict[str, Any]] = []
    for source, rel in MATH_FILES.items():
        rows = load_jsonl(data / "llm_outputs" / rel)
        for row in rows:
            gold = str(row["answer"])
            if gold.endswith(".0") and gold[:-2].isdigit():
                gold = gold[:-2]  # AMC23 stores integer answers as floats
            problem = f"{source.split('/')[0]}/{row['idx']}"
            seen_preds: set[str] = set()
            for k, completion in enumerate(row["code"]):
                pred = str(row["pred"][k]) if k < len(row.get("pred", [])) else ""
                if source.startswith("math/"):
                    # Eight samples of one problem: the distinct predictions first, at most 3.
                    distinct = pred not in seen_preds
                    seen_preds.add(pred)
                    if k >= 3 and not distinct:
                        continue
                out.append(
                    {
                        "id": f"{source}/{row['idx']}/{k}",
                        "source": source,
                        "problem": problem,
                        "gold": gold,
                        "completion": completion,
                        "recorded_grade": bool(row["score"][k]),
                    }
                )
    # Reference solutions of MATH train against the answer another project extracted for the
    # same problem (rLLM's copy): two independent writings of one answer, rare types first.
    answers = {
        r["problem"]: r["answer"]
        for r in json.loads((data / "math" / "rllm_train_math.json").read_text(encoding="utf-8"))
    }
    per_type: Counter[str] = Counter()
    files = sorted((data / "math" / "train").glob("*/*.json"))
    rng.shuffle(files)
    for f in files:
        row = json.loads(f.read_text(encoding="utf-8"))
        gold = answers.get(row["problem"])
        if not gold:
            continue
        kind = answer_type(gold)
        if per_type[kind] >= (15 if kind == "integer" else 40):
            continue
        per_type[kind] += 1
        name = f"{f.parent.name}/{f.stem}"
        out.append(
            {
                "id": f"math-train/reference/{name}",
                "source": "math-train/reference",
                "problem": f"math-train/{name}",
                "gold": gold,
                "completion": row["solution"],
                "recorded_grade": None,
            }
        )
    gsm = load_jsonl(data / "llm_outputs" / GSM8K_GPT3)
    order = list(range(len(gsm)))
    rng.shuffle(order)
    for i in order[:90]:
        row = gsm[i]
        gold = row["ground_truth"].rsplit("A:", 1)[1].strip()
        for system in GPT3_SYSTEMS:
            sol = row[system]
            out.append(
                {
                    "id": f"gsm8k/gpt3-{system}/{i}",
                    "source": f"gsm8k/gpt3-{system}",
                    "problem": f"gsm8k/{i}",
                    "gold": gold,
                    "completion": sol["solution"],
                    "recorded_grade": bool(sol["is_correct"]),
                }
            )
    tora = load_jsonl(data / "llm_outputs" / GSM8K_TORA)
    order = list(range(len(tora)))
    rng.shuffle(order)
    for i in order[:120]:
        row = tora[i]
        out.append(
            {
                "id": f"gsm8k/tora-70b/{row['idx']}",
                "source": "gsm8k/tora-70b",
                "problem": f"gsm8k/{row['idx']}",
                "gold": str(row["gt"]),
                "completion": row["code"][0],
                "recorded_grade": None,
            }
        )
    out = [c for c in out if c["gold"].strip()]
    for c in out:
        c["answer_type"] = answer_type(c["gold"])
        c["split"] = problem_split(c["problem"])
    # Stratify: every non-integer pair; integers thinned to keep the set balanced.
    kept = []
    for c in out:
        if c["answer_type"] == "integer" and c["source"].startswith(("math500", "math/")):
            if rng.random() > 0.8:
                continue
        kept.append(c)
    return kept


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    rows = candidates(args.data_dir)
    with args.out.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(len(rows), Counter(r["answer_type"] for r in rows), Counter(r["split"] for r in rows))


if __name__ == "__main__":
    main()
