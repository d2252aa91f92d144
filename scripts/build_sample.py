#!/usr/bin/env python3
"""Build the sample dataset bundled in ``python/sfstream/data/``.

Reads the real public data under ``--data-dir`` (laid out as ``collect --data-dir`` expects) and
writes three
files into ``--out``:

* ``problems.jsonl``    -- Problem records (docs/records.md), one per line.
* ``completions.jsonl`` -- recorded real model completions keyed to those problems; the
  offline "replay" generation backend answers requests from them.
* ``ATTRIBUTION.md``    -- where every record came from, under which license.

Selection is fully deterministic (file order and recorded grades only, no randomness), and the
output is byte-identical across runs, which ``tests/test_sample_data.py`` checks. Only the
standard library is used. Every single-file input is checked against the sha256 of the
published file it was taken from, so a changed input fails loudly instead of silently changing
the sample.

Usage::

    python scripts/build_sample.py --data-dir DATA [--out python/sfstream/data]
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "python" / "sfstream" / "data"
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"

# --- selection parameters ----------------------------------------------------------------
MATH500_PER_CELL = 2  # first N problems (file order) of every (subject, level) cell
AIME_COUNT = 10
APPS_MAX_COMPLETIONS = 4
LCB_PER_CELL_PASS = 2  # per (testtype, difficulty): first N problems o1-mini passed ...
LCB_PER_CELL_FAIL = 1  # ... and first M it failed (topped up from the other kind if short)
MAX_TESTS_BYTES = 50_000
# Each source's judge mode, as collect writes it (sfstream.collect.code_tests.SOURCE_JUDGES).
APPS_JUDGE = "apps"
LCB_JUDGE = "lines+float"
MAX_COMPLETION_BYTES = 200_000

# --- inputs (path relative to data dir, sha256 of the published file) ------------------------
MATH500 = ("math500/test.jsonl", "35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132")
AIME24 = ("aime24/test.jsonl", "af2b8bd2aa911b6333ad0df32f3ca05c7ae8ed10f1731f4372c8ae26990bf7ac")
LCB = (
    "livecodebench/test.json",
    "b94212d8c882d7ff99ebde702d0a3319e5c94440faed6ae8984cd850f29a6cd6",
)
MATH500_OUT = {
    "Qwen/Qwen2.5-14B-Instruct": (
        "llm_outputs/math500/Qwen2.5-14B-Instruct_test_qwen25-math-cot_-1_seed0_t0.0_s0_e-1.jsonl",
        "f7068e1259bf58ad9df9ad6951a66c062b2e250f54f08095321a42e9a746ffaf",
    ),
    "google/gemma-2-27b-it": (
        "llm_outputs/math500/gemma-2-27b-it_test_qwen25-math-cot_-1_seed0_t0.0_s0_e-1.jsonl",
        "5cc0181439dc69f672528e79fa629b92c6f3d126ef589edd124e63ae01de7be0",
    ),
}
AIME24_OUT = {
    "Qwen/Qwen2.5-14B-Instruct": (
        "llm_outputs/aime24/Qwen2.5-14B-Instruct_test_qwen25-math-cot_-1_seed0_t0.0_s0_e-1.jsonl",
        "69d2816492bfb64228125a1b7990f8d07665d8eb41680b01a71d3b0ca296a42b",
    ),
    "Sky-T1-math-correct-5K-14B": (
        "llm_outputs/aime24/Sky-T1-math-correct-5K-14B_test_Sky-T1_-1_seed0_t0.0_s0_e-1.jsonl",
        "69b3ba44c3139b205687745b2f160eddfcd35a8a811aceda94fa6815100a888e",
    ),
}
LCB_OUT = (
    "llm_outputs/livecodebench/O1-Mini-2024-09-12_N1_Scenario.codegeneration_1_0.2_eval_all.json",
    "9e7c9d729cc464af3e532af9faa1ec8ea993839567e4c952bfa7fb92e094d78b",
)
LCB_MODEL = "o1-mini-2024-09-12"
APPS_DIR = "apps/train"
APPS_MODEL = "salesforce/CodeRL"

# Sky-T1 wraps a finished answer in this marker; a trace without it was cut off at the
# harness's token limit, so it is recorded as finish_reason "length", not "stop".
SKY_T1_END = "<|end_of_solution|>"

CODE_TEMPLATE = (
    "I'll solve this step by step.\n\n...\n\nHere's my final solution:\n\n```python\n{code}\n```\n"
)


class BuildError(Exception):
    pass


# --- helpers -----------------------------------------------------------------------------
def _read_checked(data_dir: Path, rel: str, sha256: str) -> bytes:
    path = data_dir / rel
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BuildError(f"cannot read {path}: {exc}") from exc
    digest = hashlib.sha256(raw).hexdigest()
    if digest != sha256:
        raise BuildError(f"{path}: sha256 {digest} does not match the published file ({sha256})")
    return raw


def _jsonl(data_dir: Path, spec: tuple[str, str]) -> list[dict[str, Any]]:
    raw = _read_checked(data_dir, *spec).decode("utf-8")
    return [json.loads(line) for line in raw.splitlines() if line.strip()]


def _json(data_dir: Path, spec: tuple[str, str]) -> Any:
    return json.loads(_read_checked(data_dir, *spec).decode("utf-8"))


def _completion(
    pid: str, index: int, model: str, text: str, correct: bool | None, finish: str = "stop"
) -> dict[str, Any]:
    return {
        "id": pid,
        "sample_index": index,
        "model": model,
        "completion": text,
        "reasoning": None,
        "finish_reason": finish,
        "recorded_correct": correct,
        "usage": None,
    }


def _nbytes(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    return len(json.dumps(value, ensure_ascii=False).encode("utf-8"))


# --- MATH500 -----------------------------------------------------------------------------
def build_math500(data_dir: Path) -> tuple[list[dict], list[dict]]:
    rows = _jsonl(data_dir, MATH500)
    outputs = {model: _jsonl(data_dir, spec) for model, spec in MATH500_OUT.items()}
    for model, out in outputs.items():
        if len(out) != len(rows):
            raise BuildError(
                f"math500 outputs of {model}: {len(out)} records, expected {len(rows)}"
            )

    cells: dict[tuple[str, int], list[int]] = defaultdict(list)
    for idx, row in enumerate(rows):
        cell = cells[(row["subject"], row["level"])]
        if len(cell) < MATH500_PER_CELL:
            cell.append(idx)
    chosen = sorted(i for cell in cells.values() for i in cell)

    problems, completions = [], []
    for idx in chosen:
        row = rows[idx]
        pid = f"math500/test/{idx}"
        problems.append(
            {
                "id": pid,
                "domain": "math",
                "source": "math500",
                "problem": row["problem"],
                "answer": row["answer"],
                "solution": row["solution"],
                "meta": {
                    "subject": row["subject"],
                    "level": row["level"],
                    "unique_id": row["unique_id"],
                    "index": idx,
                },
            }
        )
        for sample_index, (model, out) in enumerate(outputs.items()):
            rec = out[idx]
            # The harness files are in MATH500 order; check the join on statement text anyway.
            if rec["idx"] != idx or rec["question"] != row["problem"]:
                raise BuildError(
                    f"math500 outputs of {model}: record {idx} does not match the problem"
                )
            completions.append(
                _completion(pid, sample_index, model, rec["code"][0], bool(rec["score"][0]))
            )
    return problems, completions


# --- AIME 2024 ---------------------------------------------------------------------------
_AIME_URL = re.compile(r"/(\d{4})_AIME_(I{1,2})_Problems/Problem_(\d+)$")


def build_aime24(data_dir: Path) -> tuple[list[dict], list[dict]]:
    rows = _jsonl(data_dir, AIME24)
    outputs = {model: _jsonl(data_dir, spec) for model, spec in AIME24_OUT.items()}
    for model, out in outputs.items():
        if len(out) != len(rows):
            raise BuildError(f"aime24 outputs of {model}: {len(out)} records, expected {len(rows)}")
        for i, (rec, row) in enumerate(zip(out, rows, strict=True)):
            if rec["question"] != row["problem"]:
                raise BuildError(
                    f"aime24 outputs of {model}: record {i} does not match the problem"
                )

    # Every problem that at least one recorded model solved, then the lowest indices, so the
    # sample holds both graded outcomes (and, from Sky-T1, long traces cut off at the limit).
    solved = [i for i in range(len(rows)) if any(out[i]["score"][0] for out in outputs.values())]
    rest = [i for i in range(len(rows)) if i not in solved]
    chosen = sorted((solved + rest)[:AIME_COUNT])

    problems, completions = [], []
    for i in chosen:
        row = rows[i]
        match = _AIME_URL.search(row["url"])
        if not match:
            raise BuildError(f"aime24 record {i}: unexpected url {row['url']!r}")
        pid = f"aime24/test/{row['id']}"
        problems.append(
            {
                "id": pid,
                "domain": "math",
                "source": "aime24",
                "problem": row["problem"],
                "answer": str(row["answer"]),
                "solution": row["solution"],
                "meta": {
                    "year": int(match.group(1)),
                    "contest": f"AIME {match.group(2)}",
                    "problem_number": int(match.group(3)),
                    "url": row["url"],
                },
            }
        )
        for sample_index, (model, out) in enumerate(outputs.items()):
            text = out[i]["code"][0]
            if _nbytes(text) > MAX_COMPLETION_BYTES:
                continue
            finish = "stop"
            if model.startswith("Sky-T1") and SKY_T1_END not in text:
                finish = "length"
            completions.append(
                _completion(pid, sample_index, model, text, bool(out[i]["score"][0]), finish)
            )
    return problems, completions


# --- APPS --------------------------------------------------------------------------------
def _apps_pick(gens: list[dict]) -> list[int]:
    """Up to APPS_MAX_COMPLETIONS programs: the first of each grade (pass, wrong answer,
    runtime error, compile error) that occurs, topped up in file order; kept in file order."""
    picked: list[int] = []
    for grade in (True, False, -1, -2):
        for i, gen in enumerate(gens):
            if gen["result"] is grade or (type(gen["result"]) is int and gen["result"] == grade):
                picked.append(i)
                break
    for i in range(len(gens)):
        if len(picked) >= APPS_MAX_COMPLETIONS:
            break
        if i not in picked:
            picked.append(i)
    return sorted(picked[:APPS_MAX_COMPLETIONS])


def build_apps(data_dir: Path) -> tuple[list[dict], list[dict]]:
    root = data_dir / APPS_DIR
    if not root.is_dir():
        raise BuildError(f"missing {root}")
    problems, completions = [], []
    for pdir in sorted(p for p in root.iterdir() if p.is_dir()):
        pid = f"apps/train/{pdir.name}"
        io = json.loads((pdir / "input_output.json").read_text("utf-8"))
        meta_in = json.loads((pdir / "metadata.json").read_text("utf-8"))
        solutions = json.loads((pdir / "solutions.json").read_text("utf-8"))
        gens = json.loads((pdir / "gen_solutions.json").read_text("utf-8"))
        starter = pdir / "starter_code.py"
        tests = {
            "inputs": io["inputs"],
            "outputs": io["outputs"],
            "fn_name": io.get("fn_name"),
            "judge": APPS_JUDGE,
        }
        if _nbytes(tests) > MAX_TESTS_BYTES:
            continue
        problems.append(
            {
                "id": pid,
                "domain": "code",
                "source": "apps",
                "problem": (pdir / "question.txt").read_text("utf-8"),
                "tests": tests,
                "starter_code": starter.read_text("utf-8") if starter.exists() else None,
                "solution": solutions[0] if solutions else None,
                "meta": {
                    "difficulty": meta_in.get("difficulty"),
                    "url": meta_in.get("url"),
                    "split": "train",
                    "apps_id": pdir.name,
                },
            }
        )
        for sample_index, g in enumerate(_apps_pick(gens)):
            gen = gens[g]
            text = CODE_TEMPLATE.format(code=gen["code"].rstrip("\n"))
            completions.append(
                _completion(pid, sample_index, APPS_MODEL, text, gen["result"] is True)
            )
    return problems, completions


# --- LiveCodeBench -----------------------------------------------------------------------
_FN_NAME = re.compile(r"^\s+def\s+(\w+)\s*\(\s*self\b", re.M)


def _lcb_tests(prob: dict) -> dict[str, Any]:
    kinds = {t["testtype"] for t in prob["tests"]}
    if kinds == {"stdin"}:
        return {
            "inputs": [t["input"] for t in prob["tests"]],
            "outputs": [t["output"] for t in prob["tests"]],
            "fn_name": None,
            "judge": LCB_JUDGE,
        }
    if kinds == {"functional"}:
        names = _FN_NAME.findall(prob["starter_code"])
        if "class Solution" not in prob["starter_code"] or len(names) != 1:
            raise BuildError(f"livecodebench: cannot find the method in {prob['starter_code']!r}")
        return {
            "inputs": [[json.loads(a) for a in t["input"].split("\n")] for t in prob["tests"]],
            "outputs": [json.loads(t["output"]) for t in prob["tests"]],
            "fn_name": names[0],
            "judge": LCB_JUDGE,
        }
    raise BuildError(f"livecodebench: mixed test types {sorted(kinds)}")


def _fails_public_test(prob: dict, rec: dict) -> bool:
    """True when upstream recorded a wrong answer (error_code -2) on one of the public tests.

    Such a failure shows up in sfstream's own verification, which only has the public tests;
    most o1-mini failures are on hidden tests, so the public tests alone would pass them.
    The failing input is recorded as stdin text, or for functional tests as the Python repr
    of the argument list.
    """
    try:
        md = json.loads(rec["metadata"][0])
    except (IndexError, TypeError, ValueError):
        return False
    if not isinstance(md, dict) or str(md.get("error_code")) != "-2" or "inputs" not in md:
        return False
    if prob["tests"][0]["testtype"] == "stdin":
        return any(md["inputs"].strip() == t["input"].strip() for t in prob["tests"])
    try:
        args = ast.literal_eval(md["inputs"])
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return False
    return any(args == [json.loads(a) for a in t["input"].split("\n")] for t in prob["tests"])


def build_livecodebench(data_dir: Path) -> tuple[list[dict], list[dict]]:
    probs = _json(data_dir, LCB)
    graded = {rec["question_content"]: rec for rec in _json(data_dir, LCB_OUT)}

    cells: dict[tuple[str, str], dict[bool, list[int]]] = defaultdict(lambda: {True: [], False: []})
    for i, prob in enumerate(probs):
        rec = graded.get(prob["problem"])
        if rec is None or not rec["output_list"] or not rec["graded_list"]:
            continue
        if _nbytes(prob["tests"]) > MAX_TESTS_BYTES:
            continue
        if _nbytes(rec["output_list"][0]) > MAX_COMPLETION_BYTES:
            continue
        cells[(prob["tests"][0]["testtype"], rec["difficulty"])][
            bool(rec["graded_list"][0])
        ].append(i)

    want = LCB_PER_CELL_PASS + LCB_PER_CELL_FAIL
    chosen: list[int] = []
    for key in sorted(cells):
        passed, failed = cells[key][True], cells[key][False]
        # Failures visible on the public tests first (stable sort keeps file order within).
        failed = sorted(
            failed, key=lambda i: not _fails_public_test(probs[i], graded[probs[i]["problem"]])
        )
        take_f = min(LCB_PER_CELL_FAIL, len(failed))
        take_p = min(len(passed), want - take_f)
        take_f = min(len(failed), want - take_p)
        chosen += passed[:take_p] + failed[:take_f]

    problems, completions = [], []
    for i in sorted(chosen):
        prob = probs[i]
        rec = graded[prob["problem"]]
        tests = _lcb_tests(prob)
        pid = f"livecodebench/test/{rec['question_id']}"
        problems.append(
            {
                "id": pid,
                "domain": "code",
                "source": "livecodebench",
                "problem": prob["problem"],
                "tests": tests,
                "starter_code": prob["starter_code"] or None,
                "solution": None,
                "meta": {
                    "title": rec["question_title"],
                    "platform": rec["platform"],
                    "question_id": rec["question_id"],
                    "contest_id": rec["contest_id"],
                    "contest_date": rec["contest_date"],
                    "difficulty": rec["difficulty"],
                    "testtype": prob["tests"][0]["testtype"],
                    "index": i,
                },
            }
        )
        completions.append(
            _completion(pid, 0, LCB_MODEL, rec["output_list"][0], bool(rec["graded_list"][0]))
        )
    return problems, completions


# --- attribution -------------------------------------------------------------------------
def attribution(problems: list[dict], completions: list[dict]) -> str:
    def count(source: str) -> int:
        return sum(p["source"] == source for p in problems)

    def comp(prefix: str, model: str) -> str:
        recs = [c for c in completions if c["id"].startswith(prefix) and c["model"] == model]
        ok = sum(c["recorded_correct"] is True for c in recs)
        return f"{len(recs)} ({ok} graded correct upstream)"

    m500 = [p for p in problems if p["source"] == "math500"]
    subjects = sorted({p["meta"]["subject"] for p in m500})
    aime = [p for p in problems if p["source"] == "aime24"]
    aime_ids = ", ".join(
        f"{p['meta']['contest']} #{p['meta']['problem_number']}"
        for p in sorted(aime, key=lambda p: (p["meta"]["contest"], p["meta"]["problem_number"]))
    )
    lcb = [p for p in problems if p["source"] == "livecodebench"]
    lcb_stdin = sum(p["tests"]["fn_name"] is None for p in lcb)
    n_length = sum(c["finish_reason"] == "length" for c in completions)
    sky_t1_file = "test_Sky-T1_-1_seed0_t0.0_s0_e-1.jsonl"
    template_shown = CODE_TEMPLATE.replace("\n", "\\n").replace("{code}", "<code>")

    return f"""# Attribution for the bundled sample data

`problems.jsonl` and `completions.jsonl` are generated by `scripts/build_sample.py` from public
datasets published in the repositories named below (each with its commit and licence).
Every text below -- problem statements, reference solutions, tests and model completions -- is
copied verbatim from the files named here; the only changes are re-keying into sfstream's record
format, parsing LiveCodeBench's functional tests from JSON text into values, and wrapping the
APPS programs in the code-answer template described below. Selection is deterministic; see the
script.

Third-party texts: AIME problem statements (and the AoPS solutions shipped with them) are
© Mathematical Association of America (and the AoPS authors); the LiveCodeBench statements belong
to AtCoder and LeetCode; APPS statements come from Codeforces, AtCoder, LeetCode and Codewars.
They are widely redistributed for research evaluation; the repository licenses below cover
the repositories, not those third-party texts. Upstream dataset licenses: MATH (Hendrycks et
al.) MIT; APPS MIT.

## Problems ({len(problems)})

### MATH500 -- {count("math500")} problems
- dataset: MATH500 (the 500-problem PRM800K test split of MATH, Hendrycks et al., MIT)
- repository: `hkust-nlp/simpleRL-reason`, commit `cf1c7858bfc145a27aa733e75d930d34f0d318a6`
- path: `examples/simplelr_math_eval/data/math500/test.jsonl` (byte-identical to
  openai/prm800k `prm800k/math_splits/test.jsonl`)
- license: MIT (root LICENSE, © 2025 NLP Group @ HKUST; the eval folder carries MIT
  © 2024 Zhibin Gou)
- selected: the first {MATH500_PER_CELL} problems in file order of every (subject, level) cell --
  all {len(subjects)} subjects ({", ".join(subjects)}) x levels 1-5. Ids are
  `math500/test/<0-based line index>`; `meta.unique_id` keeps the PRM800K id.

### AIME 2024 -- {count("aime24")} problems
- dataset: AIME 2024 I and II (statements © MAA; solutions from the AoPS wiki)
- repository: `hkust-nlp/simpleRL-reason`, commit `cf1c7858bfc145a27aa733e75d930d34f0d318a6`
- path: `examples/simplelr_math_eval/data/aime24/test.jsonl` (same blob as QwenLM/Qwen2.5-Math
  `evaluation/data/aime24/test.jsonl`)
- license: MIT (root LICENSE, © 2025 NLP Group @ HKUST; the eval folder carries MIT
  © 2024 Zhibin Gou)
- selected: every problem that at least one of the two recorded models below was graded correct
  on, topped up with the lowest file indices to {AIME_COUNT}: {aime_ids}. Ids are
  `aime24/test/<id>` with the file's AoPS-numbered `id`.

### APPS -- {count("apps")} problems
- dataset: APPS (Hendrycks et al., MIT), original per-problem train layout, as shipped by CodeRL
- repository: `salesforce/CodeRL`, commit `ec3c526a07e44f56f702f354cbad11187bdf25cc`
- path: `data/APPS/train/<id>/` (`question.txt`, `input_output.json`, `solutions.json`,
  `metadata.json`, `starter_code.py`, `gen_solutions.json`)
- license: BSD-3-Clause (© 2022 Salesforce.com, Inc.)
- selected: all five problems (0001, 0111, 2287 stdin/stdout; 2404, 4184 call-based).
  `solution` is the first entry of `solutions.json`; `tests` is `input_output.json` unchanged
  (outputs of call-based problems are wrapped in a one-element list in 4184 and not in 2404,
  exactly as upstream), plus `"judge": "{APPS_JUDGE}"`, APPS's judge mode.

### LiveCodeBench -- {len(lcb)} problems ({lcb_stdin} stdin, {len(lcb) - lcb_stdin} functional)
- dataset: LiveCodeBench v5 window (2024-08 to 2025-01), public tests only
- repository: `rllm-org/rllm`, commit `5255304e87b07e6e81e7c61d9dac3e4f160ec6a9`
- path: `rllm/data/test/code/livecodebench.json`
- license: MIT at the cited commit (© 2025 agentica-project); the repository is Apache-2.0 today
- selected: problems with a graded o1-mini generation (below) and tests under
  {MAX_TESTS_BYTES // 1000} KB; for each (test type, difficulty) the first {LCB_PER_CELL_PASS}
  in file order that o1-mini passed and the first {LCB_PER_CELL_FAIL} it failed -- preferring
  failures that upstream recorded as a wrong answer on one of the public tests, so they also
  fail here -- topped up from the other kind where one is short. Tests are converted to APPS
  semantics: stdin tests become `{{"inputs": [stdin], "outputs": [stdout], "fn_name": null}}`;
  functional tests take `fn_name`
  from the `class Solution` method in `starter_code`, each input is the list of arguments
  parsed from the newline-separated JSON literals and each output the parsed JSON value.
  The tests name LiveCodeBench's judge mode, `"judge": "{LCB_JUDGE}"`.
  Ids are `livecodebench/test/<LiveCodeBench question_id>`.

## Completions ({len(completions)})

All completions are real recorded model outputs, copied verbatim; `recorded_correct` is the
grade recorded upstream (not sfstream's verdict). Token usage was not recorded upstream
(`usage` is null).

### MATH500 and AIME 2024 -- Qwen2.5-Math evaluation harness outputs
- repository: `NovaSky-AI/SkyThought`, commit `f7bcf0b4e7d429e798a39524acd4a68031c905ba`
- license: Apache-2.0 (LICENSE present at the cited commit)
- paths (under `skythought/Qwen2.5-Math/evaluation/outputs/`):
  - `Qwen/Qwen2.5-14B-Instruct/math500_eval/math500/test_qwen25-math-cot_-1_seed0_t0.0_s0_e-1.jsonl`
  - `google/gemma-2-27b-it/math500_eval/math500/test_qwen25-math-cot_-1_seed0_t0.0_s0_e-1.jsonl`
  - `Qwen/Qwen2.5-14B-Instruct/aime24_eval/aime24/test_qwen25-math-cot_-1_seed0_t0.0_s0_e-1.jsonl`
  - `home/ubuntu/skyov1-dl/Sky-T1-math-correct-5K-14B/aime24_eval/aime24/{sky_t1_file}`
- selected: `code[0]` of the record for each selected problem, `score[0]` as `recorded_correct`.
  MATH500: sample 0 Qwen2.5-14B-Instruct {comp("math500/", "Qwen/Qwen2.5-14B-Instruct")},
  sample 1 gemma-2-27b-it {comp("math500/", "google/gemma-2-27b-it")}.
  AIME 2024: sample 0 Qwen2.5-14B-Instruct {comp("aime24/", "Qwen/Qwen2.5-14B-Instruct")},
  sample 1 Sky-T1-math-correct-5K-14B {comp("aime24/", "Sky-T1-math-correct-5K-14B")}
  (outputs over {MAX_COMPLETION_BYTES // 1000} KB would be skipped). {n_length} Sky-T1 traces stop
  without `{SKY_T1_END}` -- cut off at the harness's token limit -- and are recorded with
  `finish_reason: "length"`.

### APPS -- CodeRL generated programs
- repository: `salesforce/CodeRL`, commit `ec3c526a07e44f56f702f354cbad11187bdf25cc`,
  path `data/APPS/train/<id>/gen_solutions.json`; license BSD-3-Clause (© 2022 Salesforce.com, Inc.)
- selected: up to {APPS_MAX_COMPLETIONS} programs per problem -- the first of each recorded grade
  present (pass, wrong answer, runtime error, compile error), topped up in file order --
  {comp("apps/", APPS_MODEL)}.
  `recorded_correct` is `result is true`. CodeRL recorded programs only, so each is wrapped in
  the seed's code-answer template with a literal `...` where the steps would be:
  `{template_shown}`.

### LiveCodeBench -- o1-mini
- repository: `LiveCodeBench/submissions`, commit `4d04b02a01c81b0a7207bafdcda35efad9e39b8c`
- path: `O1-Mini-2024-09-12 (N=1)/Scenario.codegeneration_1_0.2_eval_all.json`
- license: MIT (© 2025 LiveCodeBench)
- selected: joined on statement text (`question_content` == `problem`); `output_list[0]` as the
  completion and `graded_list[0]` (against LiveCodeBench's hidden tests, which are not in
  the sample) as `recorded_correct`: {comp("livecodebench/", LCB_MODEL)}.
"""


# --- main --------------------------------------------------------------------------------
def _write_jsonl(path: Path, records: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


def build(data_dir: Path, out: Path) -> dict[str, int]:
    problems: list[dict] = []
    completions: list[dict] = []
    for builder in (build_math500, build_aime24, build_apps, build_livecodebench):
        p, c = builder(data_dir)
        problems += p
        completions += c

    ids = [p["id"] for p in problems]
    if len(set(ids)) != len(ids):
        raise BuildError("duplicate problem ids")
    known = set(ids)
    keys = [(c["id"], c["sample_index"]) for c in completions]
    if len(set(keys)) != len(keys) or any(c["id"] not in known for c in completions):
        raise BuildError("completion keys are not unique or name unknown problems")

    out.mkdir(parents=True, exist_ok=True)
    _write_jsonl(out / "problems.jsonl", problems)
    _write_jsonl(out / "completions.jsonl", completions)
    (out / "ATTRIBUTION.md").write_text(
        attribution(problems, completions), encoding="utf-8", newline="\n"
    )
    return {"problems": len(problems), "completions": len(completions)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA, help="shared data dir (default: %(default)s)"
    )
    ap.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output dir (default: %(default)s)"
    )
    args = ap.parse_args(argv)
    try:
        counts = build(args.data_dir, args.out)
    except (BuildError, OSError, KeyError, ValueError) as exc:
        print(f"build_sample: error: {exc}", file=sys.stderr)
        return 1
    print(
        f"build_sample: wrote {counts['problems']} problems and "
        f"{counts['completions']} completions to {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
