"""The sample bundled in python/sfstream/data: well-formed, complete, and reproducible."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from public_data import public_data_dir

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "python" / "sfstream" / "data"
SHARED_DATA = public_data_dir()
FILES = ("problems.jsonl", "completions.jsonl", "ATTRIBUTION.md")

MATH500_SUBJECTS = {
    "Algebra",
    "Counting & Probability",
    "Geometry",
    "Intermediate Algebra",
    "Number Theory",
    "Prealgebra",
    "Precalculus",
}
COMPLETION_KEYS = {
    "id",
    "sample_index",
    "model",
    "completion",
    "reasoning",
    "finish_reason",
    "recorded_correct",
    "usage",
}


def _read_jsonl(path: Path) -> list[dict]:
    raw = path.read_bytes()
    assert raw.endswith(b"\n"), f"{path.name}: last line not newline-terminated"
    records = []
    for n, line in enumerate(raw.decode("utf-8").split("\n")[:-1], 1):
        rec = json.loads(line)
        assert isinstance(rec, dict), f"{path.name}:{n}: not an object"
        records.append(rec)
    return records


@pytest.fixture(scope="module")
def problems() -> list[dict]:
    return _read_jsonl(DATA / "problems.jsonl")


@pytest.fixture(scope="module")
def completions() -> list[dict]:
    return _read_jsonl(DATA / "completions.jsonl")


def test_problem_ids_unique(problems: list[dict]) -> None:
    ids = [p["id"] for p in problems]
    assert len(ids) == len(set(ids))


def test_problem_records_follow_spec(problems: list[dict]) -> None:
    for p in problems:
        where = p.get("id")
        for key in ("id", "domain", "source", "problem"):
            assert isinstance(p.get(key), str) and p[key], (where, key)
        assert p["id"].startswith(p["source"] + "/"), where
        assert p["domain"] in ("math", "code"), where
        if "solution" in p:
            assert p["solution"] is None or isinstance(p["solution"], str), where
        if "meta" in p:
            assert isinstance(p["meta"], dict), where
        if p["domain"] == "math":
            assert isinstance(p.get("answer"), str) and p["answer"].strip(), where
            assert "tests" not in p, where
            continue
        assert "starter_code" in p, where
        assert p["starter_code"] is None or isinstance(p["starter_code"], str), where
        tests = p["tests"]
        assert isinstance(tests, dict), where
        assert isinstance(tests["inputs"], list) and tests["inputs"], where
        assert isinstance(tests["outputs"], list), where
        assert len(tests["inputs"]) == len(tests["outputs"]), where
        fn_name = tests["fn_name"]
        if fn_name is None:
            assert all(isinstance(x, str) for x in tests["inputs"] + tests["outputs"]), where
        else:
            assert isinstance(fn_name, str) and fn_name.isidentifier(), where
            assert all(isinstance(x, list) for x in tests["inputs"]), where
            assert p["starter_code"] and fn_name in p["starter_code"], where
        assert len(json.dumps(tests)) < 60_000, where


def test_math_counts(problems: list[dict]) -> None:
    m500 = [p for p in problems if p["source"] == "math500"]
    assert len(m500) >= 40
    assert {p["meta"]["subject"] for p in m500} == MATH500_SUBJECTS
    assert {p["meta"]["level"] for p in m500} == {1, 2, 3, 4, 5}
    assert all(p["domain"] == "math" for p in m500)
    aime = [p for p in problems if p["source"] == "aime24"]
    assert len(aime) >= 10
    assert all(p["domain"] == "math" and p["meta"]["year"] == 2024 for p in aime)


def test_code_counts(problems: list[dict]) -> None:
    code = [p for p in problems if p["domain"] == "code"]
    assert len(code) >= 20
    assert sum(p["tests"]["fn_name"] is None for p in code) >= 3
    assert sum(p["tests"]["fn_name"] is not None for p in code) >= 2
    by_source = Counter(p["source"] for p in code)
    assert by_source["apps"] == 5
    assert by_source["livecodebench"] >= 15
    lcb = [p for p in code if p["source"] == "livecodebench"]
    assert {p["tests"]["fn_name"] is None for p in lcb} == {True, False}


def test_code_problems_carry_their_source_judge(problems: list[dict]) -> None:
    # The bundled sample names the same judge mode as collect writes for each source.
    from sfstream.collect.code_tests import SOURCE_JUDGES

    code = [p for p in problems if p["domain"] == "code"]
    assert code
    for p in code:
        assert p["tests"]["judge"] == SOURCE_JUDGES[p["source"]], p["id"]


def test_completions_follow_format(completions: list[dict], problems: list[dict]) -> None:
    ids = {p["id"] for p in problems}
    keys = set()
    for c in completions:
        where = (c.get("id"), c.get("sample_index"))
        assert set(c) == COMPLETION_KEYS, where
        assert c["id"] in ids, where
        assert isinstance(c["sample_index"], int) and c["sample_index"] >= 0, where
        assert isinstance(c["model"], str) and c["model"], where
        assert isinstance(c["completion"], str) and c["completion"].strip(), where
        assert c["reasoning"] is None or isinstance(c["reasoning"], str), where
        assert c["finish_reason"] in ("stop", "length"), where
        assert c["recorded_correct"] in (True, False, None), where
        assert c["usage"] is None or isinstance(c["usage"], dict), where
        keys.add(where)
    assert len(keys) == len(completions), "duplicate (id, sample_index)"


def test_completions_cover_problems_with_both_outcomes(
    completions: list[dict], problems: list[dict]
) -> None:
    covered = {c["id"] for c in completions}
    assert covered == {p["id"] for p in problems}
    by_source: dict[str, set] = {}
    for c in completions:
        by_source.setdefault(c["id"].split("/")[0], set()).add(c["recorded_correct"])
    for source in ("math500", "aime24", "apps", "livecodebench"):
        assert {True, False} <= by_source[source], source


def test_attribution_and_size() -> None:
    text = (DATA / "ATTRIBUTION.md").read_text("utf-8")
    for needle in ("MAA", "simpleRL-reason", "salesforce/CodeRL", "LiveCodeBench/submissions"):
        assert needle in text
    assert sum(f.stat().st_size for f in DATA.iterdir() if f.is_file()) < 3 * 1024 * 1024


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"{SHARED_DATA} is absent")
def test_build_script_reproduces_the_shipped_files(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "build_sample.py"),
            "--data-dir",
            str(SHARED_DATA),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name
