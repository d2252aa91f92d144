"""The collect stage: named datasets from the shared data, the bundled sample, local files,
Hugging Face sources (without network), limit/seed selection and the async wrapper."""

from __future__ import annotations

import contextlib
import gzip
import importlib
import json
import sys
import threading
import types
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sfstream.collect import code_tests, collect, files, iter_problems, known_sources, last_boxed
from sfstream.errors import ConfigError
from sfstream.records import Problem

# (``sfstream.collect`` the attribute is the stage function; the package is in sys.modules.)
SAMPLE_FILE = (
    Path(importlib.import_module("sfstream").__file__ or "").parent / "data" / "problems.jsonl"
)


def _ids(problems: list[Problem]) -> list[str]:
    return [p.id for p in problems]


def _write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# named datasets from the shared data
# --------------------------------------------------------------------------------------------
COUNTS = [
    ("math", "test", 5000, "math"),
    ("math", "train", 7498, "math"),  # 7,500 files; 2 have an empty \boxed{} upstream
    ("math500", "test", 500, "math"),
    ("aime24", "test", 30, "math"),
    ("aime25", "test", 30, "math"),
    ("amc23", "test", 40, "math"),
    ("aime", "train", 975, "math"),
    ("gsm8k", "test", 1319, "math"),
    ("gsm8k", "train", 7473, "math"),
    ("apps", "train", 5, "code"),
    ("code_contests", "test", 165, "code"),
    ("codeforces", "test", 408, "code"),
    ("livecodebench", "test", 279, "code"),
    ("humaneval", "test", 164, "code"),
    ("mbpp", "test", 500, "code"),
    ("mbpp", "train", 374, "code"),
]


@pytest.mark.parametrize(
    ("name", "split", "count", "domain"), COUNTS, ids=[f"{c[0]}-{c[1]}" for c in COUNTS]
)
def test_named_dataset_loads(
    shared_data: Path, name: str, split: str, count: int, domain: str
) -> None:
    problems = list(iter_problems([name], split=split, data_dir=shared_data))
    assert len(problems) == count
    ids = _ids(problems)
    assert len(set(ids)) == len(ids)
    for p in problems:
        assert isinstance(p, Problem)
        assert p.id.startswith(f"{name}/{split}/")
        assert p.source == name
        assert p.domain == domain
        assert p.problem.strip()
        if domain == "math":
            assert p.answer and p.answer.strip()
        else:
            assert p.tests is not None
        # Records survive the wire format unchanged.
        assert Problem.from_dict(json.loads(json.dumps(p.to_dict()))) == p


def test_default_splits(shared_data: Path) -> None:
    first = {
        name: next(iter(iter_problems(name, data_dir=shared_data))).id
        for name in ("math", "math500", "gsm8k", "apps", "aime", "mbpp")
    }
    assert first == {
        "math": "math/test/0",
        "math500": "math500/test/0",
        "gsm8k": "gsm8k/test/0",
        "apps": "apps/train/0001",
        "aime": "aime/train/0",
        "mbpp": "mbpp/test/11",
    }


def test_ids_are_stable_across_runs(shared_data: Path) -> None:
    one = _ids(list(iter_problems(["aime24", "livecodebench"], data_dir=shared_data)))
    two = _ids(list(iter_problems(["aime24", "livecodebench"], data_dir=shared_data)))
    assert one == two


def test_math_answers(shared_data: Path) -> None:
    m500 = {p.problem: p for p in iter_problems("math500", data_dir=shared_data)}
    first = next(iter(m500.values()))
    assert first.id == "math500/test/0"
    assert first.answer == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert first.meta == {
        "subject": "Precalculus",
        "level": 2,
        "unique_id": "test/precalculus/807.json",
        "index": 0,
    }
    # MATH test has no answer field: the last \boxed{} of the solution agrees with MATH500's
    # answer on all 500 shared problems.
    math_test = [p for p in iter_problems("math", data_dir=shared_data) if p.problem in m500]
    assert len(math_test) == 500
    assert all(p.answer == m500[p.problem].answer for p in math_test)
    assert math_test[0].meta["level"] in range(1, 6)


def test_math_train_tree(shared_data: Path) -> None:
    problems = list(iter_problems("math", split="train", limit=3, data_dir=shared_data))
    numbers = sorted(int(p.stem) for p in (shared_data / "math" / "train" / "algebra").iterdir())
    assert _ids(problems) == [f"math/train/algebra/{n}" for n in numbers[:3]]
    assert problems[0].meta["subject"] == "Algebra"
    assert problems[0].meta["unique_id"] == "train/algebra/0.json"
    # Cross-check the \boxed{} answers against rLLM's pre-extracted ones.
    rllm = json.loads((shared_data / "math" / "rllm_train_math.json").read_text("utf-8"))
    gold = {r["problem"]: r["answer"] for r in rllm if r["answer"]}
    train = list(iter_problems("math", split="train", data_dir=shared_data))
    both = [p for p in train if p.problem in gold]
    assert len(both) > 7400
    assert all(p.answer == gold[p.problem].strip() for p in both)


def test_competition_math(shared_data: Path) -> None:
    aime = {p.id: p for p in iter_problems("aime24", data_dir=shared_data)}
    p = aime["aime24/test/60"]
    assert p.answer == "204"
    assert p.meta["year"] == 2024 and p.meta["contest"] == "AIME I"
    assert p.meta["problem_number"] == 1 and p.meta["url"].startswith("https://")
    amc = next(iter(iter_problems("amc23", data_dir=shared_data)))
    assert amc.answer == "27"  # a float (27.0) upstream
    assert amc.meta["contest"] == "AMC 12A"
    hist = list(iter_problems("aime", data_dir=shared_data))
    assert Counter(p.meta["year"] for p in hist)[1983] == 15
    assert all(p.answer.isdigit() for p in hist)


def test_gsm8k_answers(shared_data: Path) -> None:
    test = list(iter_problems("gsm8k", data_dir=shared_data))
    assert test[0].answer == "18"
    assert "####" not in (test[0].solution or "")
    train = list(iter_problems("gsm8k", split="train", data_dir=shared_data))
    assert all(p.answer.lstrip("-").replace(".", "").isdigit() for p in train + test)
    with (shared_data / "gsm8k" / "train.jsonl").open(encoding="utf-8") as fh:
        raw = json.loads(fh.readline())
    assert train[0].problem == raw["question"]


def test_apps(shared_data: Path) -> None:
    apps = {p.id: p for p in iter_problems("apps", data_dir=shared_data)}
    assert sorted(apps) == [
        "apps/train/0001",
        "apps/train/0111",
        "apps/train/2287",
        "apps/train/2404",
        "apps/train/4184",
    ]
    stdin = apps["apps/train/0001"]
    assert stdin.tests == {
        "inputs": ["3\n2 2 3\n4 3 7\n10 1 9\n"],
        "outputs": ["1\n6\n-1\n"],
        "fn_name": None,
        "judge": "apps",
    }
    assert stdin.starter_code is None
    assert stdin.solution and "print" in stdin.solution
    assert stdin.meta["difficulty"] == "interview"
    call = apps["apps/train/2404"]
    assert call.tests is not None and call.tests["fn_name"] == "findKthPositive"
    assert call.starter_code and "findKthPositive" in call.starter_code


def test_livecodebench(shared_data: Path) -> None:
    lcb = list(iter_problems("livecodebench", data_dir=shared_data))
    kinds = Counter(p.meta["testtype"] for p in lcb)
    assert sum(kinds.values()) == 279 and kinds["functional"] > 0 and kinds["stdin"] > 0
    functional = [p for p in lcb if p.meta["testtype"] == "functional"]
    for p in functional:
        assert p.tests is not None and p.starter_code
        assert f"def {p.tests['fn_name']}(" in p.starter_code
        assert all(isinstance(args, list) and args for args in p.tests["inputs"])
    stdin = [p for p in lcb if p.meta["testtype"] == "stdin"]
    assert all(p.tests is not None and p.tests["fn_name"] is None for p in stdin)
    assert all(isinstance(x, str) for p in stdin for x in p.tests["inputs"])  # type: ignore[index]
    # Named after LiveCodeBench's question ids (joined from the submission file).
    assert all(p.id == f"livecodebench/test/{p.meta['question_id']}" for p in lcb)


def test_livecodebench_without_the_submission_file(shared_data: Path, tmp_path: Path) -> None:
    (tmp_path / "livecodebench").mkdir()
    raw = (shared_data / "livecodebench" / "test.json").read_bytes()
    (tmp_path / "livecodebench" / "test.json").write_bytes(raw)
    lcb = list(iter_problems("livecodebench", limit=3, data_dir=tmp_path))
    assert _ids(lcb) == ["livecodebench/test/0", "livecodebench/test/1", "livecodebench/test/2"]
    assert "question_id" not in lcb[0].meta and lcb[0].meta["testtype"] == "stdin"


def test_livecodebench_mixed_tests_keep_the_majority() -> None:
    starter = "class Solution:\n    def add(self, a: int, b: int) -> int:\n        "
    cases = [
        {"input": "1\n2", "output": "3", "testtype": "functional"},
        {"input": "[1]\n[2]", "output": "[1, 2]", "testtype": "functional"},
        {"input": "1 2\n", "output": "3\n", "testtype": "stdin"},
    ]
    tests, meta = code_tests.tests_from_case_list(cases, starter)
    assert tests == {"inputs": [[1, 2], [[1], [2]]], "outputs": [3, [1, 2]], "fn_name": "add"}
    assert meta == {"testtype": "functional", "dropped_tests": 1}


def test_humaneval_and_mbpp(shared_data: Path) -> None:
    he = next(iter(iter_problems("humaneval", data_dir=shared_data)))
    assert he.id == "humaneval/test/0"
    assert he.tests is not None and he.tests["entry_point"] == "has_close_elements"
    assert he.tests["asserts"].endswith("\ncheck(has_close_elements)\n")
    assert he.starter_code == he.problem
    mbpp = next(iter(iter_problems("mbpp", data_dir=shared_data)))
    assert mbpp.id == "mbpp/test/11"
    assert mbpp.tests is not None and mbpp.tests["entry_point"] == "remove_Occ"
    assert "assert remove_Occ(" in mbpp.tests["asserts"]
    assert "remove_Occ" in mbpp.problem  # the statement shows the tests, as MBPP's prompt does


@pytest.mark.parametrize("name", ["humaneval", "mbpp"])
def test_reference_solutions_pass_their_asserts(shared_data: Path, name: str) -> None:
    for p in iter_problems(name, limit=10, data_dir=shared_data):
        assert p.solution and p.tests
        scope: dict[str, Any] = {}
        exec(compile(p.solution + "\n" + p.tests["asserts"], p.id, "exec"), scope)


def test_data_dir_from_environment(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFSTREAM_DATA_DIR", str(shared_data))
    assert len(list(iter_problems("aime24"))) == 30


# --------------------------------------------------------------------------------------------
# the bundled sample
# --------------------------------------------------------------------------------------------
@pytest.fixture
def sample_present() -> None:
    if not SAMPLE_FILE.is_file():
        pytest.skip("bundled sample not present yet")


@pytest.mark.usefixtures("sample_present")
def test_sample_loads() -> None:
    problems = list(iter_problems(["sample"]))
    lines = [ln for ln in SAMPLE_FILE.read_text("utf-8").splitlines() if ln.strip()]
    assert len(problems) == len(lines) > 0
    assert {p.domain for p in problems} == {"math", "code"}
    assert len(set(_ids(problems))) == len(problems)


@pytest.mark.usefixtures("sample_present")
def test_sample_split_filter() -> None:
    train = list(iter_problems("sample", split="train"))
    assert train and all(p.id.split("/")[1] == "train" for p in train)


@pytest.mark.usefixtures("sample_present")
def test_sample_matches_the_datasets(shared_data: Path) -> None:
    """The bundled sample is a subset of what collect makes of the same datasets."""
    sample = list(iter_problems("sample"))
    sources = sorted({p.source for p in sample})
    full = {p.id: p for p in iter_problems(sources, data_dir=shared_data)}
    assert [p.id for p in sample if full.get(p.id) != p] == []


# --------------------------------------------------------------------------------------------
# limit and seed
# --------------------------------------------------------------------------------------------
def test_limit_without_seed_keeps_file_order(shared_data: Path) -> None:
    got = _ids(list(iter_problems("math500", limit=3, data_dir=shared_data)))
    assert got == ["math500/test/0", "math500/test/1", "math500/test/2"]
    assert list(iter_problems("math500", limit=0, data_dir=shared_data)) == []


def test_seed_is_deterministic(shared_data: Path) -> None:
    def pick(seed: int) -> list[str]:
        return _ids(list(iter_problems("math500", limit=5, seed=seed, data_dir=shared_data)))

    assert pick(1) == pick(1)
    assert pick(1) != pick(2)
    assert pick(1) != _ids(list(iter_problems("math500", limit=5, data_dir=shared_data)))
    # Seed without limit reorders everything.
    all_seeded = _ids(list(iter_problems("aime24", seed=3, data_dir=shared_data)))
    all_plain = _ids(list(iter_problems("aime24", data_dir=shared_data)))
    assert sorted(all_seeded) == sorted(all_plain) and all_seeded != all_plain


def test_limit_is_per_source(shared_data: Path) -> None:
    both = list(iter_problems(["aime24", "math500"], limit=4, seed=7, data_dir=shared_data))
    assert Counter(p.source for p in both) == {"aime24": 4, "math500": 4}
    # A source's selection does not depend on the other sources listed.
    alone = list(iter_problems(["math500"], limit=4, seed=7, data_dir=shared_data))
    assert [p for p in both if p.source == "math500"] == alone


def test_duplicate_sources_and_ids(shared_data: Path, tmp_path: Path) -> None:
    twice = list(iter_problems(["aime24", "aime24"], data_dir=shared_data))
    assert len(twice) == 30
    # A problem already collected (same id) is dropped, not emitted twice.
    path = _write_jsonl(tmp_path / "again.jsonl", [ROWS[4], ROWS[0], ROWS[4]])
    assert _ids(list(iter_problems(str(path)))) == ["mine/7", "again/1"]


# --------------------------------------------------------------------------------------------
# local files
# --------------------------------------------------------------------------------------------
ROWS: list[dict[str, Any]] = [
    {"question": "What is 1+1?", "answer": 2, "level": 1},
    {"problem": "Compute $3^2$.", "solution": "It is $\\boxed{9}$."},
    {
        "prompt": "Read n and print n+1.",
        "input_output": json.dumps({"inputs": ["1\n"], "outputs": ["2\n"]}),
    },
    {
        "instruction": "Add.",
        "tests": {"inputs": [[1, 2]], "outputs": [3], "fn_name": "add"},
        "starter_code": "def add(a, b):\n",
    },
    {"id": "mine/7", "domain": "math", "source": "mine", "problem": "2*3?", "answer": "6"},
    {"question": "Natalia sold 48 clips ...", "answer": "She sold 48/2 = 24.\n#### 1,024"},
]


def _check_rows(problems: list[Problem], prefix: str, source: str) -> None:
    assert [p.domain for p in problems] == ["math", "math", "code", "code", "math", "math"]
    assert [p.answer for p in problems] == ["2", "9", None, None, "6", "1024"]
    assert problems[0].id == f"{prefix}/0" and problems[0].source == source
    assert problems[0].meta == {"level": 1}
    assert problems[2].tests == {"inputs": ["1\n"], "outputs": ["2\n"], "fn_name": None}
    assert problems[3].tests == {"inputs": [[1, 2]], "outputs": [3], "fn_name": "add"}
    assert problems[3].starter_code == "def add(a, b):\n"
    assert problems[4].id == "mine/7" and problems[4].source == "mine"
    assert problems[5].solution == "She sold 48/2 = 24."


def test_local_jsonl(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "my_set.jsonl", ROWS)
    _check_rows(list(iter_problems([str(path)])), "my_set", "my_set")


def test_local_ndjson_gz_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "rows.ndjson.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(json.dumps(r) for r in ROWS) + "\n\n")
    _check_rows(list(iter_problems([str(path)])), "rows", "rows")


@pytest.mark.parametrize("wrapped", [False, True])
def test_local_json(tmp_path: Path, wrapped: bool) -> None:
    path = tmp_path / "set.json"
    path.write_text(json.dumps({"data": ROWS} if wrapped else ROWS), encoding="utf-8")
    _check_rows(list(iter_problems(str(path))), "set", "set")


def test_local_parquet(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = [{"problem": f"What is {i}+{i}?", "answer": str(2 * i)} for i in range(5)]
    path = tmp_path / "numbers.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    problems = list(iter_problems(str(path)))
    assert [p.answer for p in problems] == ["0", "2", "4", "6", "8"]
    assert problems[4].id == "numbers/4" and problems[4].source == "numbers"


def test_local_parquet_without_pyarrow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.parquet"
    path.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ConfigError, match="pyarrow"):
        list(iter_problems(str(path)))


def test_generic_file_names_use_the_folder(tmp_path: Path) -> None:
    (tmp_path / "olympiad").mkdir()
    path = _write_jsonl(tmp_path / "olympiad" / "test.jsonl", ROWS[:1])
    (p,) = iter_problems(str(path))
    assert p.id == "olympiad/test/0" and p.source == "olympiad"


def test_local_row_that_cannot_be_mapped(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "bad.jsonl", [ROWS[0], {"question": "no answer here"}])
    with pytest.raises(ConfigError, match=r"bad\.jsonl: line 2: cannot map") as info:
        list(iter_problems(str(path)))
    assert "\n" not in str(info.value)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([ROWS[0], ROWS[1], [1, 2]]), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.json: row 3"):
        list(iter_problems(str(path)))


def test_local_invalid_problem_record(tmp_path: Path) -> None:
    row = {"id": "x/1", "domain": "math", "source": "x", "problem": "?"}  # no answer
    path = _write_jsonl(tmp_path / "recs.jsonl", [row])
    with pytest.raises(ConfigError, match=r"recs\.jsonl: line 1.*answer"):
        list(iter_problems(str(path)))


def test_local_malformed_json(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.jsonl: line 2"):
        list(iter_problems(str(path)))
    path = tmp_path / "scalar.json"
    path.write_text('{"rows": []}', encoding="utf-8")
    with pytest.raises(ConfigError, match="JSON list"):
        list(iter_problems(str(path)))


def test_missing_and_unsupported_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        iter_problems(str(tmp_path / "nope.jsonl"))
    other = tmp_path / "notes.txt"
    other.write_text("hi", encoding="utf-8")
    with pytest.raises(ConfigError, match="unsupported file type"):
        iter_problems(str(other))


# --------------------------------------------------------------------------------------------
# errors and Hugging Face (never touches the network)
# --------------------------------------------------------------------------------------------
def test_unknown_source_lists_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        iter_problems(["math500", "no_such_set"])
    message = str(info.value)
    assert "no_such_set" in message
    for name in ("sample", "math", "math500", "aime24", "aime25", "apps", "humaneval"):
        assert name in message
    assert set(known_sources()) >= {"sample", "math", "math500", "aime24", "aime25", "apps"}


def test_bad_options() -> None:
    with pytest.raises(ConfigError, match="no 'train' split"):
        iter_problems("math500", split="train")
    with pytest.raises(ConfigError, match="limit"):
        iter_problems("sample", limit=-1)
    with pytest.raises(ConfigError, match="no source"):
        iter_problems([])
    with pytest.raises(ConfigError, match="hf:ORG/NAME"):
        iter_problems("hf:justaname")


@pytest.fixture
def no_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)


def _fake_datasets(monkeypatch: pytest.MonkeyPatch, load: Any) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []

    def load_dataset(name: str, config: str | None = None, split: str | None = None) -> Any:
        calls.append((name, config, split))
        return load(name, config, split)

    module = types.ModuleType("datasets")
    module.load_dataset = load_dataset  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "datasets", module)
    return calls


@pytest.mark.usefixtures("no_datasets")
def test_hf_without_datasets() -> None:
    with pytest.raises(ConfigError, match=r"'datasets' package is not installed.*sfstream\[hf\]"):
        list(iter_problems("hf:openai/gsm8k:main"))


@pytest.mark.usefixtures("no_datasets")
def test_missing_dataset_without_datasets(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        list(iter_problems("math500", data_dir=tmp_path))
    assert str(info.value) == (
        f"dataset 'math500' (test) not found in {tmp_path} "
        "(set --data-dir or SFSTREAM_DATA_DIR, or install sfstream[hf])"
    )


def test_hf_without_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def offline(name: str, config: str | None, split: str | None) -> Any:
        raise ConnectionError(f"Couldn't reach '{name}' on the Hub\n(LocalEntryNotFoundError)")

    _fake_datasets(monkeypatch, offline)
    with pytest.raises(ConfigError, match="cannot load Hugging Face dataset 'org/set'") as info:
        list(iter_problems("hf:org/set"))
    assert "\n" not in str(info.value) and "ConnectionError" in str(info.value)
    # The same for a named dataset that falls back to the hub.
    with pytest.raises(ConfigError, match="HuggingFaceH4/MATH-500"):
        list(iter_problems("math500", data_dir=tmp_path))


def test_hf_generic_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"question": "1+1?", "answer": "2"}, {"question": "2+2?", "answer": "4"}]
    calls = _fake_datasets(monkeypatch, lambda n, c, s: {"train": rows} if s is None else rows)
    got = list(iter_problems("hf:someone/tiny-set"))
    assert calls == [("someone/tiny-set", None, None)]
    assert [(p.id, p.source, p.answer) for p in got] == [
        ("tiny-set/train/0", "tiny-set", "2"),
        ("tiny-set/train/1", "tiny-set", "4"),
    ]
    got = list(iter_problems("hf:someone/tiny-set:extra", split="test", limit=1))
    assert calls[-1] == ("someone/tiny-set", "extra", "test")
    assert _ids(got) == ["tiny-set-extra/test/0"]


def test_hf_known_dataset_maps_like_the_local_copy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    row = {
        "problem": "p",
        "solution": "s $\\boxed{5}$",
        "answer": "5",
        "subject": "Algebra",
        "level": 1,
        "unique_id": "test/algebra/1.json",
    }
    calls = _fake_datasets(monkeypatch, lambda n, c, s: [row])
    # A named dataset missing from the data dir falls back to the hub copy ...
    (fallback,) = iter_problems("math500", data_dir=tmp_path)
    assert calls == [("HuggingFaceH4/MATH-500", None, "test")]
    assert fallback.id == "math500/test/0" and fallback.source == "math500"
    assert fallback.meta["unique_id"] == "test/algebra/1.json"
    # ... and hf: naming that copy gives the same record.
    (direct,) = iter_problems("hf:HuggingFaceH4/MATH-500")
    assert direct == fallback


def test_hf_apps_rows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    rows = [
        {
            "problem_id": 7,
            "question": "q",
            "solutions": json.dumps(["print(1)"]),
            "input_output": json.dumps({"inputs": ["\n"], "outputs": ["1\n"]}),
            "difficulty": "interview",
            "url": "u",
            "starter_code": "",
        },
        {
            "problem_id": 8,
            "question": "q2",
            "solutions": "",
            "input_output": "",
            "difficulty": "interview",
            "url": "u",
            "starter_code": "",
        },
    ]
    calls = _fake_datasets(monkeypatch, lambda n, c, s: rows)
    got = list(iter_problems("apps", data_dir=tmp_path))
    assert calls == [("codeparrot/apps", "all", "train")]
    assert _ids(got) == ["apps/train/0007"]  # the row without tests is skipped
    assert got[0].solution == "print(1)" and got[0].starter_code is None


# --------------------------------------------------------------------------------------------
# \boxed{}
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so $\\boxed{5}$", "5"),
        ("\\boxed{1} then \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("\\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),
        ("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}.", "\\left( 3, \\frac{\\pi}{2} \\right)"),
        ("\\fbox{x}", "x"),
        ("$\\boxed 7$", "7"),
        ("\\boxed{ 12 }", "12"),
        ("\\boxed{2} and then \\boxed{3", "2"),
        ("so $\\boxed{4}$ and $\\boxed{7}$.", "7"),  # a solution's boxes are not joined
        ("\\boxed{2} and then \\boxed{ }", "2"),
        ("\\boxed{}", None),
        ("no box", None),
    ],
)
def test_last_boxed(text: str, expected: str | None) -> None:
    assert last_boxed(text) == expected


# --------------------------------------------------------------------------------------------
# async
# --------------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_collect_matches_iter_problems(shared_data: Path) -> None:
    got = [p async for p in collect(["aime24", "math500"], limit=100, data_dir=shared_data)]
    assert got == list(iter_problems(["aime24", "math500"], limit=100, data_dir=shared_data))
    assert len(got) == 130  # more than one chunk


@pytest.mark.anyio
async def test_collect_loads_in_a_worker_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write_jsonl(tmp_path / "t.jsonl", ROWS[:4] * 75)
    threads: set[int] = set()
    real = files.iter_file_rows

    def spy(p: Path) -> Any:
        for item in real(p):
            threads.add(threading.get_ident())
            yield item

    monkeypatch.setattr(files, "iter_file_rows", spy)
    got = [p async for p in collect(str(path))]
    assert len(got) == 300
    assert threads and threading.get_ident() not in threads


@pytest.mark.anyio
async def test_collect_errors_and_early_close(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown source"):
        async for _ in collect("nope"):
            pass
    path = _write_jsonl(tmp_path / "t.jsonl", ROWS * 50)
    async with contextlib.aclosing(collect(str(path))) as stream:
        async for p in stream:
            assert p.id == "t/0"
            break
