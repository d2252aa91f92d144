"""Training-ready output: ``format -o FILE.parquet`` in each style, the alpaca layout, and the
folder of ``sfstream run`` loaded by ``datasets.load_dataset`` (offline) with its card."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import orjson
import pyarrow.parquet as pq
import pytest
import sfstream
import yaml
from sfstream.collect import iter_problems
from sfstream.export import (
    DATA_FILE,
    example_row,
    example_schema,
    open_parquet_writer,
    row_example,
    write_parquet,
)
from sfstream.records import Example, Sample
from stage_helpers import aiter_of

SFSTREAM = [sys.executable, "-m", "sfstream"]

COLUMNS = {
    "messages": ["id", "domain", "source", "messages", "meta"],
    "seed": ["id", "domain", "source", "messages", "text", "meta"],
    "sharegpt": ["id", "domain", "source", "messages", "conversations", "meta"],
    "alpaca": [
        "id",
        "domain",
        "source",
        "messages",
        "instruction",
        "input",
        "output",
        "system",
        "meta",
    ],
}


def sh(args: list[str], timeout: float = 300, **kw: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(SFSTREAM + args, capture_output=True, timeout=timeout, check=False, **kw)


def rows(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


def parquet_examples(path: Path) -> list[dict[str, Any]]:
    return [row_example(r) for r in pq.read_table(path).to_pylist()]


def check_style_fields(example: dict[str, Any], style: str) -> None:
    """The fields each style documents, against the example's own messages."""
    system, user, assistant = example["messages"]
    assert [m["role"] for m in example["messages"]] == ["system", "user", "assistant"]
    assert user["content"].startswith("Problem:\n") and assistant["content"]
    if style == "seed":
        assert example["text"] == (
            f"{system['content']}\n\n{user['content']}\n\n{assistant['content']}\n"
        )
    if style == "sharegpt":
        assert example["conversations"] == [
            {"from": "system", "value": system["content"]},
            {"from": "human", "value": user["content"]},
            {"from": "gpt", "value": assistant["content"]},
        ]
    if style == "alpaca":
        assert example["instruction"] == user["content"]
        assert example["input"] == ""
        assert example["output"] == assistant["content"]
        assert example["system"] == system["content"]
    if style != "alpaca":
        assert "instruction" not in example and "output" not in example
    for key in ("sample_index", "model", "status"):
        assert key in example["meta"]
    assert example["meta"]["status"] == "correct"


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample run once with the replay backend (messages style)."""
    out = tmp_path_factory.mktemp("run") / "out"
    proc = sh(["run", "sample", "--out", str(out), "-q"])
    assert proc.returncode == 0, proc.stderr.decode()
    return out


@pytest.mark.parametrize("style", ["messages", "seed", "sharegpt", "alpaca"])
def test_format_parquet_round_trip_on_the_sample(
    sample_run: Path, tmp_path: Path, style: str
) -> None:
    verified = sample_run / "verified.jsonl"
    ndjson, parquet = tmp_path / "train.jsonl", tmp_path / "train.parquet"
    for target in (ndjson, parquet):
        proc = sh(["format", "--style", style, "-i", str(verified), "-o", str(target), "-q"])
        assert proc.returncode == 0, proc.stderr.decode()
    assert not list(tmp_path.glob("*.partial"))
    table = pq.read_table(parquet)
    assert table.schema.names == COLUMNS[style]
    assert table.schema == example_schema(style)
    assert all(isinstance(m, str) for m in table.column("meta").to_pylist())
    expected = rows(ndjson)
    assert len(expected) == sum(1 for r in rows(verified) if r["verdict"]["correct"]) > 100
    assert parquet_examples(parquet) == expected  # same rows, same order, meta exact
    for example in expected:
        check_style_fields(example, style)
    # An NDJSON example read back as a record gives the same row.
    assert [example_row(Example.from_dict(e), style) for e in expected] == table.to_pylist()


def test_parquet_is_written_in_bounded_row_groups_as_it_goes(
    sample_run: Path, tmp_path: Path
) -> None:
    examples = rows(sample_run / "train.jsonl")
    assert len(examples) > 120
    path = tmp_path / "train.parquet"

    async def main() -> None:
        async with open_parquet_writer(path, "messages", row_group_rows=50) as writer:
            await writer.write_many(examples[:120])
            # Two full row groups are in the file already; only the rest is held.
            assert writer.row_groups == 2 and writer.written == 120
            assert not path.exists()  # the name appears only when the file is complete
            await writer.write_many(examples[120:])

    anyio.run(main)
    meta = pq.ParquetFile(path).metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert sizes == [50, 50, len(examples) - 100]
    assert parquet_examples(path) == examples
    # A byte bound also cuts row groups: no group holds more than one row past it.
    small = tmp_path / "small.parquet"
    stats = write_parquet(examples, small, "messages", row_group_bytes=100_000)
    meta = pq.ParquetFile(small).metadata
    assert stats.row_groups == meta.num_row_groups > 2
    assert sum(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) == len(examples)
    assert parquet_examples(small) == examples


def test_meta_keeps_integers_of_any_size_and_mixed_types(tmp_path: Path) -> None:
    base = {
        "domain": "code",
        "source": "local",
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": "u"},
            {"role": "assistant", "content": "a"},
        ],
    }
    examples = [
        {**base, "id": "a#0", "meta": {"level": 3, "answer": 2**70, "tags": ["x", 1.5]}},
        {**base, "id": "b#0", "meta": {"level": "Level 3", "answer": None}},
        {**base, "id": "c#0", "meta": {}},
    ]
    path = tmp_path / "mixed.parquet"
    assert write_parquet(examples, path, "messages").rows == 3
    assert parquet_examples(path) == examples
    assert json.loads(pq.read_table(path).column("meta")[0].as_py())["answer"] == 2**70


def test_an_example_of_another_style_is_refused(sample_run: Path, tmp_path: Path) -> None:
    seed = tmp_path / "seed.jsonl"
    proc = sh(["format", "--style", "seed", "-i", str(sample_run / "verified.jsonl")])
    seed.write_bytes(proc.stdout)
    with pytest.raises(sfstream.ConfigError, match="no column for"):
        write_parquet(rows(seed), tmp_path / "x.parquet", "messages")
    assert not (tmp_path / "x.parquet").exists()


def test_a_killed_format_leaves_no_parquet_file(sample_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "train.parquet"
    partial = tmp_path / "train.parquet.partial"
    lines = (sample_run / "verified.jsonl").read_bytes().splitlines(keepends=True)
    proc = subprocess.Popen(
        [*SFSTREAM, "format", "-o", str(out), "-q"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdin is not None
        proc.stdin.write(b"".join(lines[:60]))
        proc.stdin.flush()  # the input stays open: format is mid-way when it is killed
        deadline = time.monotonic() + 120
        while not partial.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdin is not None:
            proc.stdin.close()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    with pytest.raises(Exception, match=r"(?i)parquet"):
        pq.read_table(partial)  # no footer: nothing reads it as a complete file


def test_a_failed_format_leaves_no_parquet_file(sample_run: Path, tmp_path: Path) -> None:
    lines = (sample_run / "verified.jsonl").read_bytes().splitlines(keepends=True)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"".join(lines[:30]) + b"{not json\n" + b"".join(lines[30:]))
    out = tmp_path / "train.parquet"
    proc = sh(["format", "-i", str(bad), "-o", str(out)])
    assert proc.returncode == 1
    assert "line 31" in proc.stderr.decode()
    assert not out.exists()


def test_other_stages_refuse_a_parquet_output(tmp_path: Path) -> None:
    proc = sh(["collect", "sample", "--limit", "1", "-o", str(tmp_path / "p.parquet")])
    assert proc.returncode == 2
    assert "Parquet is for format" in proc.stderr.decode()
    assert not list(tmp_path.iterdir())


def _verified_real(problems: list[Any]) -> list[Sample]:
    """Samples whose completions are the problems' reference solutions, verified for real."""
    samples = []
    for p in problems:
        solution = p.solution
        assert solution, p.id
        completion = solution if p.domain == "math" else f"```python\n{solution}\n```"
        samples.append(
            Sample(
                **{
                    **p.__dict__,
                    "sample_index": 0,
                    "model": "reference",
                    "completion": completion,
                    "reasoning": None,
                    "finish_reason": "stop",
                    "usage": None,
                }
            )
        )

    async def main() -> list[Sample]:
        return [s async for s in sfstream.verify(aiter_of(samples), workers=2)]

    return anyio.run(main)


@pytest.mark.parametrize("style", ["alpaca", "seed"])
def test_real_apps_and_math_rows_through_format_to_parquet(
    shared_data: Path, tmp_path: Path, style: str
) -> None:
    problems = [
        *iter_problems("apps", data_dir=shared_data),
        *iter_problems("math", limit=40, seed=0, data_dir=shared_data),
    ]
    verified = _verified_real(problems)
    correct = Counter(s.source for s in verified if s.verdict and s.verdict.correct)
    assert correct["apps"] >= 3 and correct["math"] >= 30, correct

    async def main() -> list[Example]:
        return [e async for e in sfstream.format(aiter_of(verified), style=style)]

    examples = anyio.run(main)
    assert len(examples) == sum(correct.values())
    path = tmp_path / "real.parquet"
    assert write_parquet(examples, path, style).rows == len(examples)
    back = parquet_examples(path)
    assert back == [e.to_dict() for e in examples]
    for example in back:
        check_style_fields(example, style)
    apps = [e for e in back if e["source"] == "apps"]
    if style == "alpaca":
        assert all("```python" in e["output"] for e in apps)
    math = [e for e in back if e["source"] == "math"]
    assert math and {e["meta"].get("level") for e in math} <= {1, 2, 3, 4, 5, None}


# --- the run folder as a dataset ---------------------------------------------------------------


LOAD = """
import json, sys
import datasets
ds = datasets.load_dataset(sys.argv[1])
print(json.dumps({
    "splits": {name: split.num_rows for name, split in ds.items()},
    "features": sorted(ds["train"].features),
    "rows": ds["train"].to_list(),
    "cache": ds["train"].cache_files[0]["filename"] if ds["train"].cache_files else None,
}))
"""


def load_with_datasets(folder: Path, home: Path) -> dict[str, Any]:
    """``datasets.load_dataset(folder)`` in a fresh interpreter, offline, with its caches in
    ``home`` (nothing read from or written to the user's cache)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(
        HF_DATASETS_OFFLINE="1",
        HF_HUB_OFFLINE="1",
        HF_HOME=str(home),
        HF_DATASETS_CACHE=str(home / "datasets"),
        XDG_CACHE_HOME=str(home / "xdg"),
    )
    proc = subprocess.run(
        [sys.executable, "-c", LOAD, str(folder)],
        capture_output=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def card_parts(folder: Path) -> tuple[dict[str, Any], str]:
    text = (folder / "README.md").read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n(.*)", text, re.S)
    assert match, text[:500]
    header: dict[str, Any] = yaml.safe_load(match.group(1))
    return header, match.group(2)


def table(body: str, first_header: str) -> list[list[str]]:
    """The rows of the markdown table whose first column is headed ``first_header``."""
    lines = body.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    out = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        out.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return out


def check_card_against_report(folder: Path) -> None:
    header, body = card_parts(folder)
    report = json.loads((folder / "report.json").read_text())
    train = rows(folder / "train.jsonl")
    assert header["dataset_info"]["splits"] == [
        {
            "name": "train",
            "num_bytes": header["dataset_info"]["splits"][0]["num_bytes"],
            "num_examples": len(train),
        }
    ]
    assert report["stages"]["format"] == len(train)
    names = {
        "problems collected": "collect",
        "samples generated": "generate",
        "samples verified": "verify",
        "training examples": "format",
    }
    counts = {names[label]: int(n) for label, n in table(body, "Stage")}
    assert counts == report["stages"]
    assert {k: int(v) for k, v in table(body, "Verdict")} == report["statuses"]
    if report.get("low_quality"):
        got = {k: int(v) for k, v in table(body, "Quality threshold failed")}
        assert got == report["low_quality"]
    per_source = Counter(r["source"] for r in train)
    sources = table(body, "Source")
    assert [r[0] for r in sources] == sorted(report["by_source"])
    for name, problems, solved, verified, correct, rate, examples, *_ in sources:
        want = report["by_source"][name]
        assert (int(problems), int(solved), int(verified), int(correct)) == (
            want["problems"],
            want["problems_solved"],
            want["verified"],
            want["correct"],
        )
        assert rate == f"{100 * want['pass_rate']:.1f}%"
        assert int(examples) == per_source[name]
    assert f"sfstream {sfstream.__version__}" in body
    models = {m: int(c) for m, c in table(body, "Model")}
    assert models == Counter(r["meta"]["model"] for r in train)


@pytest.mark.parametrize(
    "style, extra",
    [
        ("messages", []),
        ("seed", ["--limit", "6"]),
        ("sharegpt", ["--limit", "6"]),
        ("alpaca", ["--limit", "12", "--min-steps", "6", "--keep", "first"]),
    ],
)
def test_run_folder_loads_with_datasets_offline(
    sample_run: Path, tmp_path: Path, style: str, extra: list[str]
) -> None:
    if style == "messages":
        out = sample_run
    else:
        out = tmp_path / "out"
        proc = sh(["run", "sample", "--style", style, *extra, "--out", str(out), "-q"])
        assert proc.returncode == 0, proc.stderr.decode()
    home = tmp_path / "hf"
    loaded = load_with_datasets(out, home)
    train = rows(out / "train.jsonl")
    # Only the declared Parquet file is data: state, journal, reports are not read as rows.
    assert loaded["splits"] == {"train": len(train)}
    assert loaded["features"] == sorted(COLUMNS[style])
    assert [row_example(r) for r in loaded["rows"]] == train
    assert loaded["cache"] and Path(loaded["cache"]).is_relative_to(home)
    for example in train:
        check_style_fields(example, style)
    check_card_against_report(out)
    header, body = card_parts(out)
    assert header["configs"][0]["data_files"] == [
        {"split": "train", "path": DATA_FILE.replace("00000-of-00001", "*")}
    ]
    features = [f["name"] for f in header["dataset_info"]["features"]]
    assert features == COLUMNS[style]
    licenses = {r[0]: r[7] for r in table(body, "Source")}
    assert licenses["math500"] == "MIT"
    if "aime24" in licenses:
        assert licenses["aime24"] == "none stated"
    assert f"style `{style}`" in body
    if "--min-steps" in extra:
        assert "`min_steps` 6" in body and "keep `first`" in body
        assert json.loads((out / "report.json").read_text())["low_quality"]


def test_run_refuses_a_readme_it_did_not_write(tmp_path: Path) -> None:
    out = tmp_path / "project"
    out.mkdir()
    (out / "README.md").write_text("# my notes\n")
    proc = sh(["run", "sample", "--limit", "1", "--out", str(out), "-q"])
    assert proc.returncode == 1
    assert "README.md was not written by sfstream" in proc.stderr.decode()
    assert (out / "README.md").read_text() == "# my notes\n"
    assert not (out / "train.jsonl").exists()


def test_resumed_and_rerun_folders_get_a_fresh_dataset(sample_run: Path, tmp_path: Path) -> None:
    """A rerun removes the dataset of the earlier attempt first (a folder without its report
    never holds a stale dataset) and writes it again from all examples when it ends."""
    from test_run_resume import complete_lines, kill_when

    out = tmp_path / "out"
    args = ["run", "sample", "--out", str(out), "--workers", "1", "-q"]
    assert sh(args).returncode == 0
    assert (out / "README.md").exists() and (out / DATA_FILE).exists()
    kill_when(args, lambda: complete_lines(out / "train.jsonl.partial") >= 5)
    assert not (out / "report.json").exists()
    assert not (out / "README.md").exists() and not (out / DATA_FILE).exists()
    proc = sh(args)
    assert proc.returncode == 0, proc.stderr.decode()
    by_id = sorted(parquet_examples(out / DATA_FILE), key=lambda r: r["id"])
    assert by_id == sorted(rows(sample_run / "train.jsonl"), key=lambda r: r["id"])
    check_card_against_report(out)


def test_merged_shards_load_as_one_dataset(tmp_path: Path) -> None:
    shards = []
    for i in range(2):
        folder = tmp_path / f"shard-{i}"
        proc = sh(["run", "sample", "--limit", "8", "--shard", f"{i}/2", "--out", str(folder)])
        assert proc.returncode == 0, proc.stderr.decode()
        shards.append(folder)
    merged = tmp_path / "all"
    proc = sh(["merge", *map(str, shards), "--out", str(merged), "-q"])
    assert proc.returncode == 0, proc.stderr.decode()
    loaded = load_with_datasets(merged, tmp_path / "hf")
    train = rows(merged / "train.jsonl")
    assert train == rows(shards[0] / "train.jsonl") + rows(shards[1] / "train.jsonl")
    assert [row_example(r) for r in loaded["rows"]] == train
    check_card_against_report(merged)
    assert "merged from shards 0/2, 1/2" in card_parts(merged)[1]
