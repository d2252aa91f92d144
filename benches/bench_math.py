"""sfstream.check_math against math-verify on the same labeled pairs, in one run.

Both checkers judge every (completion, gold) pair of ``tests/data/math_labeled.jsonl`` (the
rows without a finish reason: math-verify does not see one). Reported in
``benchmark.extra_info`` and printed: checks per second of each, the ratio, and the accuracy of
each against the labels. The benchmark asserts that the verdicts it timed are right (≥ 98% of
the labels); it never asserts a speed ratio.

math-verify's timeouts use SIGALRM, which only works on the main thread, so it runs here on
the main thread. sfstream's outcome cache is cleared before every round, so each round pays
for its symbolic comparisons again (the workers keep their parsed-gold caches, as they do for
the samples of one problem in a real run).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from sfstream import _symbolic, check_math

LABELED = Path(__file__).resolve().parents[1] / "tests" / "data" / "math_labeled.jsonl"
MV_ROUNDS = 2
SF_ROUNDS = 20


def load_pairs() -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in LABELED.read_text(encoding="utf-8").splitlines() if line]
    return [r for r in rows if not r.get("finish_reason")]


def run_sfstream(pairs: list[dict[str, Any]]) -> list[tuple[bool, str]]:
    _symbolic.clear_caches()
    out = []
    for row in pairs:
        v = check_math(row["completion"], row["gold"])
        out.append((v.correct, v.status))
    return out


def run_math_verify(pairs: list[dict[str, Any]]) -> list[bool]:
    from math_verify import parse, verify

    out = []
    for row in pairs:
        try:
            gold = parse("$" + row["gold"] + "$")
            pred = parse(row["completion"])
            out.append(bool(verify(gold, pred)))
        except Exception:
            out.append(False)
    return out


@pytest.mark.timeout(1800)
def test_check_math_vs_math_verify(benchmark: Any) -> None:
    pytest.importorskip("math_verify")
    pairs = load_pairs()
    labels = [row["expected"] == "correct" for row in pairs]
    statuses = [row["expected"] for row in pairs]

    run_sfstream(pairs)  # start the symbolic worker outside the timings
    run_math_verify(pairs[:20])  # import and warm math-verify's parsers

    start = time.perf_counter()
    for _ in range(MV_ROUNDS):
        mv = run_math_verify(pairs)
    mv_rate = MV_ROUNDS * len(pairs) / (time.perf_counter() - start)

    start = time.perf_counter()
    for _ in range(SF_ROUNDS):
        sf = run_sfstream(pairs)
    sf_rate = SF_ROUNDS * len(pairs) / (time.perf_counter() - start)

    timed = benchmark.pedantic(run_sfstream, args=(pairs,), rounds=5, iterations=1)
    if timed is not None:
        sf = timed

    sf_status_acc = sum(got[1] == want for got, want in zip(sf, statuses, strict=True)) / len(pairs)
    sf_acc = sum(got[0] == want for got, want in zip(sf, labels, strict=True)) / len(pairs)
    mv_acc = sum(got == want for got, want in zip(mv, labels, strict=True)) / len(pairs)
    info = {
        "pairs": len(pairs),
        "sfstream_checks_per_s": round(sf_rate, 1),
        "math_verify_checks_per_s": round(mv_rate, 1),
        "speed_ratio": round(sf_rate / mv_rate, 1),
        "sfstream_accuracy": round(sf_acc, 4),
        "sfstream_status_accuracy": round(sf_status_acc, 4),
        "math_verify_accuracy": round(mv_acc, 4),
        "math_verify_false_accepts": sum(g and not w for g, w in zip(mv, labels, strict=True)),
        "math_verify_false_rejects": sum(w and not g for g, w in zip(mv, labels, strict=True)),
        "sfstream_false_accepts": sum(g[0] and not w for g, w in zip(sf, labels, strict=True)),
        "sfstream_false_rejects": sum(w and not g[0] for g, w in zip(sf, labels, strict=True)),
    }
    benchmark.extra_info.update(info)
    print()
    for key, value in info.items():
        print(f"{key}: {value}")
    assert sf_status_acc >= 0.98
    assert sf_acc >= 0.98
