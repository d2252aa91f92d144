"""Near-duplicate removal: sfstream's core MinHash LSH index against plain Python.

The peer (``tests/minhash_reference.py``) is the same rule written by hand: the same words,
the same FNV-1a shingle hashes (5-word shingles), the same 128 permutations modulo 2^61 - 1,
16 bands of 8 values in one dict per band, and an estimated Jaccard similarity of at least
0.8 between a text and a kept candidate. Both see the 7,498 MATH train problem statements (the
two without a gold answer are not collected) in the same order; each round times one full pass
of each, in the same run. The benchmark asserts that both remove exactly the same problems,
naming the same kept problem; it never asserts a speed ratio. Problems per second of each and
the median ratio go to ``benchmark.extra_info``.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytest
from minhash_reference import PlainMinHashIndex
from public_data import public_data_dir
from sfstream import _core
from sfstream.collect import iter_problems

ROUNDS = 3


def core_pass(texts: list[str]) -> list[int | None]:
    index = _core.MinHashIndex(shingle=5, num_perm=128, bands=16, threshold=0.8)
    out: list[int | None] = []
    for start in range(0, len(texts), 512):  # the batches the format stage uses
        out += index.insert(texts[start : start + 512])
    return out


def plain_pass(texts: list[str]) -> list[int | None]:
    index = PlainMinHashIndex(shingle=5, num_perm=128, bands=16, threshold=0.8)
    return [index.insert(t) for t in texts]


def test_bench_near_duplicates_vs_plain_python(benchmark: Any) -> None:
    data = public_data_dir()
    if not data.is_dir():
        pytest.skip(f"public datasets not found at {data} (set SFSTREAM_TEST_DATA)")
    problems = sorted(iter_problems("math", split="train", data_dir=data), key=lambda p: p.id)
    texts = [p.problem for p in problems]
    expected = plain_pass(texts)
    removed = sum(m is not None for m in expected)
    assert removed > 0
    rounds: list[tuple[float, float]] = []

    def one_round() -> None:
        t0 = time.perf_counter()
        got = core_pass(texts)
        t1 = time.perf_counter()
        peer = plain_pass(texts)
        t2 = time.perf_counter()
        assert got == expected
        assert peer == expected
        rounds.append((t1 - t0, t2 - t1))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    ours_rate = statistics.median(len(texts) / r[0] for r in rounds)
    plain_rate = statistics.median(len(texts) / r[1] for r in rounds)
    ratio = statistics.median(r[1] / r[0] for r in rounds)
    benchmark.extra_info.update(
        {
            "problems": len(texts),
            "removed": removed,
            "sfstream_per_s": round(ours_rate),
            "plain_python_per_s": round(plain_rate),
            "ratio": round(ratio, 1),
        }
    )
    print(
        f"\nnear duplicates: {len(texts)} MATH train problems, {removed} removed: sfstream "
        f"{ours_rate:.0f}/s, plain Python {plain_rate:.0f}/s, ratio {ratio:.1f}x"
    )
