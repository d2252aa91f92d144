"""``--shard I/N`` and ``sfstream merge``: the union of the shards is the unsharded run."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from sfstream.errors import ConfigError
from sfstream.shard import Shard, shard_of

SFSTREAM = [sys.executable, "-m", "sfstream"]


def sh(args: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(SFSTREAM + args, capture_output=True, timeout=300, check=False)


def rows(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


def test_shard_of_is_a_fixed_hash() -> None:
    # BLAKE2b-64 of the UTF-8 id, big-endian, modulo N: the same in every process and version.
    assert [shard_of(f"math500/test/{i}", 4) for i in range(8)] == [
        shard_of(f"math500/test/{i}", 4) for i in range(8)
    ]
    import hashlib

    digest = hashlib.blake2b(b"apps/train/17", digest_size=8).digest()
    assert shard_of("apps/train/17", 7) == int.from_bytes(digest, "big") % 7
    counts = Counter(shard_of(f"x/{i}", 3) for i in range(3000))
    assert set(counts) == {0, 1, 2} and min(counts.values()) > 900


def test_shard_parse() -> None:
    assert Shard.parse("2/5") == Shard(2, 5) and str(Shard(2, 5)) == "2/5"
    for bad in ("5/5", "-1/3", "1", "a/b", "0/0"):
        with pytest.raises(ConfigError):
            Shard.parse(bad)


def test_collect_shards_partition_the_problems(tmp_path: Path) -> None:
    whole = sh(["collect", "sample", "--limit", "40", "--seed", "3", "-q"])
    assert whole.returncode == 0, whole.stderr.decode()
    ids = [r["id"] for r in rows_of(whole.stdout)]
    parts = []
    for i in range(3):
        proc = sh(["collect", "sample", "--limit", "40", "--seed", "3", "--shard", f"{i}/3", "-q"])
        assert proc.returncode == 0, proc.stderr.decode()
        parts.append([r["id"] for r in rows_of(proc.stdout)])
    assert all(parts)
    assert sorted(x for part in parts for x in part) == sorted(ids)  # disjoint, all of them
    for i, part in enumerate(parts):  # input order is kept within a shard
        assert part == [x for x in ids if shard_of(x, 3) == i]
    bad = sh(["collect", "sample", "--shard", "3/3"])
    assert bad.returncode == 2
    assert b"shard index must be in 0..2" in bad.stderr


def rows_of(data: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in data.splitlines() if x.strip()]


def test_merged_shards_equal_the_unsharded_run(tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    assert sh(["run", "sample", "--out", str(whole), "-q"]).returncode == 0
    shards = []
    for i in range(3):
        out = tmp_path / f"shard{i}"
        proc = sh(["run", "sample", "--shard", f"{i}/3", "--out", str(out), "-q"])
        assert proc.returncode == 0, proc.stderr.decode()
        shards.append(out)
    merged = tmp_path / "merged"
    proc = sh(["merge", *map(str, shards), "--out", str(merged)])
    assert proc.returncode == 0, proc.stderr.decode()

    def verdicts(out: Path) -> Counter[tuple[str, int, str, bool]]:
        return Counter(
            (r["id"], r["sample_index"], r["verdict"]["status"], r["verdict"]["correct"])
            for r in rows(out / "verified.jsonl")
        )

    assert verdicts(merged) == verdicts(whole)
    assert Counter(r["id"] for r in rows(merged / "train.jsonl")) == Counter(
        r["id"] for r in rows(whole / "train.jsonl")
    )
    a = orjson.loads((whole / "report.json").read_bytes())
    b = orjson.loads((merged / "report.json").read_bytes())
    for key in ("stages", "statuses", "finish_reasons", "by_domain", "by_source"):
        assert b[key] == a[key], key
    assert b["shards"] == ["0/3", "1/3", "2/3"]
    # The merged page has the unsharded run's pass rates and pass@k, table for table.
    pages = [(d / "report.html").read_text(encoding="utf-8") for d in (whole, merged)]
    tables = [
        re.findall(r"<table>.*?</table>", p.split('id="pass"')[1].split("</section>")[0])
        for p in pages
    ]
    assert tables[0] and tables[0] == tables[1]
    # Each shard has a part of the problems, so no shard alone has the whole rate.
    assert all(
        orjson.loads((s / "report.json").read_bytes())["stages"]["collect"] < a["stages"]["collect"]
        for s in shards
    )


def test_merge_refuses_what_does_not_fit(tmp_path: Path) -> None:
    outs = {}
    for name, extra in (
        ("s0", ["--shard", "0/2"]),
        ("s1", ["--shard", "1/2"]),
        ("s1b", ["--shard", "1/2", "--style", "seed"]),
        ("whole", []),
    ):
        out = tmp_path / name
        proc = sh(["run", "sample", "--limit", "6", *extra, "--out", str(out), "-q"])
        assert proc.returncode == 0, proc.stderr.decode()
        outs[name] = str(out)
    cases = [
        ([outs["s0"]], "shard(s) 1/2 missing"),
        ([outs["s0"], outs["s1b"]], "another configuration"),
        ([outs["s0"], outs["whole"]], "not a shard"),
        ([outs["s0"], outs["s0"]], "the same shard"),
    ]
    for dirs, message in cases:
        proc = sh(["merge", *dirs, "--out", str(tmp_path / "m")])
        assert proc.returncode == 1 and message in proc.stderr.decode(), (dirs, proc.stderr)
    partial = sh(["merge", outs["s0"], "--allow-missing", "--out", str(tmp_path / "m")])
    assert partial.returncode == 0, partial.stderr.decode()
    # A run still going (or killed) has no report yet.
    (Path(outs["s1"]) / "report.json").unlink()
    unfinished = sh(["merge", outs["s0"], outs["s1"], "--out", str(tmp_path / "m2")])
    assert unfinished.returncode == 1 and "not a finished run" in unfinished.stderr.decode()
