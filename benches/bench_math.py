"""sfstream.check_math against math-verify on the same labeled pairs, in one run.

Two sets: the independent evaluation set ``tests/data/math_eval.jsonl`` (real model outputs
labelled by reading, a development and a held-out half) and the hand-written
``tests/data/math_labeled.jsonl`` (the rows without a finish reason: math-verify does not see
one). Reported in ``benchmark.extra_info`` and printed: checks per second of each (wall time,
sympy workers included), the ratio, and accuracy, false accepts and false rejects of each,
per answer type and per half. The benchmarks assert that the verdicts they timed are right;
they never assert a speed ratio.

math-verify's timeouts use SIGALRM, which only works on the main thread, so it runs here on
the main thread. sfstream's outcome cache is cleared before every round, so each round pays
for its symbolic comparisons again (the workers keep their parsed-gold caches, as they do for
the samples of one problem in a real run).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from math_eval_tally import tally
from sfstream import _symbolic, check_math

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
LABELED = DATA / "math_labeled.jsonl"
EVAL = DATA / "math_eval.jsonl"
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


def load_eval() -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line]
    return [r for r in rows if r["label"] != "ambiguous"]


def score(rows: list[dict[str, Any]], verdicts: list[bool]) -> dict[str, Counter[str]]:
    """Per half and answer type: pairs, right verdicts, false accepts, false rejects."""
    return tally(
        zip(rows, verdicts, strict=True),
        lambda r: (f"{r['split']}/{r['answer_type']}", f"{r['split']}/all", "all/all"),
    )


@pytest.mark.timeout(3600)
def test_eval_set_vs_math_verify(benchmark: Any) -> None:
    """Both checkers on every unambiguous pair of the evaluation set, timed in alternating
    slices so the machine's drift falls on both."""
    pytest.importorskip("math_verify")
    rows = load_eval()
    # Start the symbolic workers and warm sympy's own first-call work outside the timings (a
    # pipeline keeps its workers for the whole run), and import math-verify's parsers.
    warm = [
        {"completion": "\\boxed{\\cos^2 x - \\sin^2 x}", "gold": "\\cos 2x"},
        {"completion": "\\boxed{\\sqrt{2}+\\sqrt{3}}", "gold": "\\sqrt{5+2\\sqrt{6}}"},
        {"completion": "\\boxed{\\sin 1}", "gold": "\\frac{1}{2}"},
    ]
    run_sfstream(warm)
    run_math_verify(rows[:20])
    slices = [rows[i : i + 250] for i in range(0, len(rows), 250)]
    sf: list[bool] = []
    mv: list[bool] = []
    sf_time = mv_time = 0.0
    for part in slices:
        start = time.perf_counter()
        mv.extend(run_math_verify(part))
        mv_time += time.perf_counter() - start
        start = time.perf_counter()
        got = run_sfstream(part)  # clears the outcome cache: every pair pays for sympy once
        sf_time += time.perf_counter() - start
        sf.extend(c for c, _ in got)
    timed = benchmark.pedantic(run_sfstream, args=(rows,), rounds=1, iterations=1)
    if timed is not None:
        assert [c for c, _ in timed] == sf
    sf_scores, mv_scores = score(rows, sf), score(rows, mv)
    ratio = (len(rows) / sf_time) / (len(rows) / mv_time)
    print(f"\npairs: {len(rows)}")
    print(f"sfstream: {len(rows) / sf_time:.1f} checks/s; math-verify: {len(rows) / mv_time:.1f}")
    print(f"speed ratio (wall time, sympy workers included): {ratio:.1f}")
    head = f"{'sfstream acc FA FR':>20}  {'math-verify acc FA FR':>23}"
    print(f"{'half/answer type':<28}{'pairs':>6}  {head}")
    for key in sorted(
        sf_scores, key=lambda k: (k.startswith("all"), k.split("/")[0], k.endswith("/all"), k)
    ):
        a, b = sf_scores[key], mv_scores[key]
        print(
            f"{key:<28}{a['pairs']:>6}  {a['right'] / a['pairs']:>12.4f}{a['fa']:>4}{a['fr']:>4}"
            f"  {b['right'] / b['pairs']:>15.4f}{b['fa']:>4}{b['fr']:>4}"
        )
    info: dict[str, Any] = {
        "pairs": len(rows),
        "sfstream_checks_per_s": round(len(rows) / sf_time, 1),
        "math_verify_checks_per_s": round(len(rows) / mv_time, 1),
        "speed_ratio": round(ratio, 1),
    }
    for half in ("dev", "heldout"):
        for name, scores in (("sfstream", sf_scores), ("math_verify", mv_scores)):
            c = scores[f"{half}/all"]
            info[f"{name}_{half}_accuracy"] = round(c["right"] / c["pairs"], 4)
            info[f"{name}_{half}_false_accepts"] = c["false_accepts"]
            info[f"{name}_{half}_false_rejects"] = c["false_rejects"]
            info[f"{name}_{half}_wrong_pairs"] = c["wrong"]
    benchmark.extra_info.update(info)
    for key, value in info.items():
        print(f"{key}: {value}")
    # The verdicts timed are the ones the eval test asserts.
    for half in ("dev", "heldout"):
        c = sf_scores[f"{half}/all"]
        assert c["right"] / c["pairs"] >= 0.99
        assert c["false_accepts"] <= 0.01 * c["wrong"]
