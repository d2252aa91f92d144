"""Decontamination throughput: sfstream's core n-gram index against a plain Python check.

The peer is what a user writes by hand: the same normalisation with a regular expression,
13-grams as tuples of words, a dict from n-gram to benchmark documents, and a per-problem
count of shared n-grams. Both index the same benchmarks (read from the public data) and check
the same problems (MATH train and test, GSM8K train: about 20,000 real statements); each round
times one full pass of each, in the same run. The problems per second of each and the median
ratio go to ``benchmark.extra_info`` and are printed. The benchmark asserts that both flag
exactly the same problems with the same benchmark problem and shared count; it never asserts
a speed ratio.
"""

from __future__ import annotations

import re
import statistics
import time
from collections import Counter
from typing import Any

import pytest
from public_data import public_data_dir
from sfstream.collect import iter_problems
from sfstream.collect.decontaminate import BENCHMARKS, DEFAULT_NGRAM, BenchmarkIndex
from sfstream.records import Problem

ROUNDS = 3
TOKEN = re.compile(r"\\([A-Za-z]+)|[^\W_]+")
DROPPED = {"left", "right", "displaystyle", "textstyle"}

Flag = tuple[str, str, int] | None


def words(text: str) -> list[str]:
    out = []
    for m in TOKEN.finditer(text):
        command = m.group(1)
        if command is None:
            out.append(m.group(0).lower())
            continue
        word = command.lower()
        if word in DROPPED:
            continue
        out.append("frac" if word in ("dfrac", "tfrac") else word)
    return out


def grams(text: str, n: int) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}


class PlainIndex:
    def __init__(self, docs: list[Problem], n: int) -> None:
        self.n = n
        self.docs = [(p.source, p.id) for p in docs]
        self.postings: dict[tuple[str, ...], list[int]] = {}
        for i, p in enumerate(docs):
            for g in grams(p.problem, n):
                self.postings.setdefault(g, []).append(i)

    def check(self, problems: list[Problem]) -> list[Flag]:
        out: list[Flag] = []
        for p in problems:
            counts: Counter[int] = Counter()
            for g in grams(p.problem, self.n):
                for d in self.postings.get(g, ()):
                    counts[d] += 1
            best: Flag = None
            for d, shared in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
                if self.docs[d][0] != p.source:
                    best = (*self.docs[d], shared)
                    break
            out.append(best)
        return out


def core_flags(index: BenchmarkIndex, problems: list[Problem]) -> list[Flag]:
    out: list[Flag] = []
    for start in range(0, len(problems), 256):
        for found in index.check(problems[start : start + 256]):
            flag = None if found is None else (found["benchmark"], found["id"], found["shared"])
            out.append(flag)
    return out


def test_bench_decontaminate_vs_plain_python(benchmark: Any) -> None:
    data = public_data_dir()
    if not data.is_dir():
        pytest.skip(f"public datasets not found at {data} (set SFSTREAM_TEST_DATA)")
    bench_problems: list[Problem] = []
    for name, split in BENCHMARKS:
        for p in iter_problems([name], split=split, data_dir=data):
            bench_problems.append(Problem(id=p.id, domain=p.domain, source=name, problem=p.problem))
    problems = [
        *iter_problems("math", split="train", data_dir=data),
        *iter_problems("math", split="test", data_dir=data),
        *iter_problems("gsm8k", split="train", data_dir=data),
    ]
    ours = BenchmarkIndex.from_problems(bench_problems, DEFAULT_NGRAM)
    plain = PlainIndex(bench_problems, DEFAULT_NGRAM)

    expected = plain.check(problems)
    flagged = sum(f is not None for f in expected)
    # The MATH test problems that are MATH500 problems, at least, are flagged.
    assert flagged >= 450
    rounds: list[tuple[float, float]] = []

    def one_round() -> None:
        t0 = time.perf_counter()
        got = core_flags(ours, problems)
        t1 = time.perf_counter()
        peer = plain.check(problems)
        t2 = time.perf_counter()
        assert got == expected
        assert peer == expected
        rounds.append((t1 - t0, t2 - t1))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    ours_rate = statistics.median(len(problems) / r[0] for r in rounds)
    plain_rate = statistics.median(len(problems) / r[1] for r in rounds)
    ratio = statistics.median(r[1] / r[0] for r in rounds)
    result = {
        "problems": len(problems),
        "benchmark_problems": len(bench_problems),
        "flagged": flagged,
        "sfstream_per_s": round(ours_rate),
        "plain_python_per_s": round(plain_rate),
        "ratio": round(ratio, 2),
    }
    benchmark.extra_info.update(result)
    print(
        f"\ndecontaminate: {len(problems)} problems against {len(bench_problems)} benchmark "
        f"problems, {flagged} flagged: sfstream {ours_rate:.0f}/s, plain Python "
        f"{plain_rate:.0f}/s, ratio {ratio:.1f}x"
    )
