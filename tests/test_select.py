"""Selection in the format stage: keep policies, the pass-rate band, duplicates and the mix,
on the bundled sample and on real public data."""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
import sfstream
from minhash_reference import (
    PlainMinHashIndex,
    permutations,
    shingles,
    signature,
    text_key,
    words,
)
from public_data import MATH_COT_100, recorded_math_samples
from sfstream import _core
from sfstream.collect import iter_problems
from sfstream.format import FormatConfig, format_stage
from sfstream.pipeline import iterate_stage
from sfstream.records import Example, Problem, Sample, Verdict
from sfstream.select import mix_targets, parse_mix, parse_pass_rate
from stage_helpers import aiter_of
from test_verify_format import RECORDED, sample_of

# --- shared code -------------------------------------------------------------------------------


async def _select(
    samples: Iterable[Sample], **options: Any
) -> tuple[list[Example], dict[str, Any]]:
    counts: dict[str, Any] = {}
    config = FormatConfig(**options)
    stage = format_stage(config, counts=counts)
    out = [e async for e in iterate_stage(stage, aiter_of(list(samples)))]
    return out, counts


def _keys(examples: Iterable[Example]) -> list[tuple[str, int]]:
    return sorted((e.id.rsplit("#", 1)[0], e.meta["sample_index"]) for e in examples)


def _verdict(correct: bool) -> Verdict:
    return Verdict(correct=correct, status="correct" if correct else "wrong_answer")


def _rank(seed: int, *parts: object) -> int:
    text = "\0".join(str(p) for p in (seed, *parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


@pytest.fixture(scope="module")
def verified_sample() -> list[Sample]:
    """Every recorded completion of the bundled sample, verified for real."""
    samples = [sample_of(r) for r in RECORDED]

    async def go() -> list[Sample]:
        return [s async for s in sfstream.verify(aiter_of(samples), workers=2)]

    return anyio.run(go)


def _correct_by_problem(samples: Iterable[Sample]) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {}
    for s in samples:
        if s.verdict and s.verdict.correct:
            out.setdefault(s.id, []).append(s)
    return out


def _length(s: Sample) -> int:
    return len(s.completion) + len(s.reasoning or "")


# --- options -------------------------------------------------------------------------------


def test_option_parsing_and_errors() -> None:
    assert parse_pass_rate("0.1:0.9") == (0.1, 0.9)
    assert parse_pass_rate([0, 1]) == (0.0, 1.0)
    for bad in ("0.9:0.1", "0.1", "a:b", "0:1.5"):
        with pytest.raises(sfstream.ConfigError):
            parse_pass_rate(bad)
    assert parse_mix("math=0.6, code=0.4") == (("math", 0.6), ("code", 0.4))
    assert parse_mix({"MATH": 1, "apps": 3}) == (("MATH", 1.0), ("apps", 3.0))
    for bad_mix in ("math", "math=0", "math=-1,code=1", "math=1,math=2", "=1", "math=x"):
        with pytest.raises(sfstream.ConfigError):
            parse_mix(bad_mix)
    with pytest.raises(sfstream.ConfigError, match="max_per_problem needs a keep policy"):
        FormatConfig(max_per_problem=2)
    with pytest.raises(sfstream.ConfigError, match="must divide"):
        FormatConfig(dedup_problems="near", minhash_bands=7)
    with pytest.raises(sfstream.ConfigError, match="unknown keep"):
        FormatConfig(keep="best")  # type: ignore[arg-type]
    with pytest.raises(sfstream.ConfigError, match="near_threshold"):
        FormatConfig(near_threshold=1.5)
    assert FormatConfig(pass_rate="0:0.5").pass_rate == (0.0, 0.5)


def test_mix_targets_are_the_largest_apportionment_that_fits() -> None:
    # 126 = 75.6 + 50.4 rounds to 76 + 50, which fits; 127 would need 51 code examples.
    assert mix_targets({"math": 100, "code": 50}, {"math": 0.6, "code": 0.4}) == {
        "math": 76,
        "code": 50,
    }
    assert mix_targets({"math": 75, "code": 50}, {"math": 0.6, "code": 0.4}) == {
        "math": 75,
        "code": 50,
    }
    assert mix_targets({"math": 100, "code": 500}, {"math": 0.6, "code": 0.4}) == {
        "math": 100,
        "code": 67,  # 166.67: 100 + 66.67, the remainder to the largest fraction
    }
    # 3 examples, 2:1 of three? T=3 gives (1.8, 1.2) -> (2, 1): fits.
    assert mix_targets({"a": 3, "b": 1}, {"a": 0.6, "b": 0.4}) == {"a": 2, "b": 1}
    assert mix_targets({"a": 5}, {"a": 1, "b": 1}) == {"a": 0, "b": 0}
    assert mix_targets({"a": 7, "b": 7, "c": 7}, {"a": 1, "b": 1, "c": 1}) == {
        "a": 7,
        "b": 7,
        "c": 7,
    }
    # Exhaustive check on small cases: the total is the largest whose apportionment fits.
    rng = random.Random(5)
    for _ in range(300):
        groups = ["a", "b", "c"][: rng.randint(1, 3)]
        avail = {g: rng.randint(0, 12) for g in groups}
        ratios = {g: rng.choice([0.1, 0.25, 0.5, 1.0, 2.0]) for g in groups}
        got = mix_targets(avail, ratios)
        total = sum(got.values())
        assert all(got[g] <= avail[g] for g in groups)
        share = {
            g: Fraction(repr(r)) / sum(Fraction(repr(x)) for x in ratios.values())
            for g, r in ratios.items()
        }
        for g in groups:  # every count is T * share rounded down or up
            assert math.floor(total * share[g]) <= got[g] <= math.ceil(total * share[g])
        if 0 in avail.values():
            assert total == 0
            continue
        for bigger in range(total + 1, sum(avail.values()) + 1):
            floors = {g: math.floor(bigger * share[g]) for g in groups}
            rest = bigger - sum(floors.values())
            order = sorted(groups, key=lambda g: (-(bigger * share[g] - floors[g]), g))
            for g in order[:rest]:
                floors[g] += 1
            assert any(floors[g] > avail[g] for g in groups), (avail, ratios, bigger)


# --- keep policies on the bundled sample ----------------------------------------------------


@pytest.mark.anyio
async def test_keep_policies_choose_exactly_the_documented_samples(
    verified_sample: list[Sample],
) -> None:
    correct = _correct_by_problem(verified_sample)
    assert sum(len(v) > 1 for v in correct.values()) >= 20  # problems with a real choice

    def expected(key: Any, n: int) -> list[tuple[str, int]]:
        return sorted(
            (pid, s.sample_index)
            for pid, group in correct.items()
            for s in sorted(group, key=key)[:n]
        )

    cases = {
        ("first", 1): lambda s: s.sample_index,
        ("shortest", 1): lambda s: (_length(s), s.sample_index),
        ("longest", 1): lambda s: (-_length(s), s.sample_index),
        ("shortest", 2): lambda s: (_length(s), s.sample_index),
        ("random", 1): lambda s: (_rank(7, s.id, s.sample_index), s.sample_index),
        ("random", 2): lambda s: (_rank(7, s.id, s.sample_index), s.sample_index),
    }
    for (keep, n), key in cases.items():
        opts: dict[str, Any] = {"keep": keep, "seed": 7}
        if n > 1:
            opts["max_per_problem"] = n
        got, counts = await _select(verified_sample, **opts)
        want = expected(key, n)
        assert _keys(got) == want, (keep, n)
        assert counts["keep"] == sum(len(v) for v in correct.values()) - len(want)
    everything, _ = await _select(verified_sample)
    assert len(everything) == sum(len(v) for v in correct.values())


@pytest.mark.anyio
async def test_random_keep_is_reproducible_and_independent_of_arrival_order(
    verified_sample: list[Sample],
) -> None:
    shuffled = list(verified_sample)
    random.Random(1).shuffle(shuffled)
    a, _ = await _select(verified_sample, keep="random", seed=3)
    b, _ = await _select(shuffled, keep="random", seed=3)
    c, _ = await _select(verified_sample, keep="random", seed=4)
    assert _keys(a) == _keys(b)
    assert _keys(a) != _keys(c)  # another seed picks another sample for some problem


# --- pass-rate band on real recorded n-sample groups ----------------------------------------

COT = MATH_COT_100


def _cot_samples(shared_data: Path) -> list[Sample]:
    return recorded_math_samples(shared_data)


@pytest.mark.anyio
async def test_pass_rate_band_on_recorded_groups_of_eight(shared_data: Path) -> None:
    samples = _cot_samples(shared_data)
    assert len(samples) == 800
    rows = [orjson.loads(x) for x in (shared_data / COT).read_bytes().splitlines()]
    rate = {f"math/test/{r['idx']}": sum(r["score"]) / 8 for r in rows}
    in_band = {pid for pid, r in rate.items() if 0.1 <= r <= 0.9}
    assert 5 <= len(in_band) <= 60  # neither every problem nor none: the band matters
    want = sorted(
        (s.id, s.sample_index)
        for s in samples
        if s.id in in_band and s.verdict and s.verdict.correct
    )
    shuffled = list(samples)
    random.Random(2).shuffle(shuffled)  # groups interleave, as after concurrent verification
    for n in (8, None):  # complete groups decided on arrival, or all at the end
        got, counts = await _select(shuffled, pass_rate="0.1:0.9", samples_per_problem=n)
        assert _keys(got) == want
        assert counts["pass_rate_problems"] == 100 - len(in_band)
        assert counts["pass_rate_incomplete"] == 0
    # With a keep policy, the band is decided first.
    got, _ = await _select(shuffled, pass_rate="0.1:0.9", samples_per_problem=8, keep="first")
    assert _keys(got) == sorted(
        (pid, min(i for p, i in want if p == pid)) for pid in {p for p, _ in want}
    )
    # Incomplete groups (the last sample of every problem missing) are decided at the end
    # over the samples that arrived, and counted.
    cut = [s for s in shuffled if s.sample_index < 7]
    got, counts = await _select(cut, pass_rate="0.1:0.9", samples_per_problem=8)
    assert counts["pass_rate_incomplete"] == 100
    rate7 = {pid: sum(s.verdict.correct for s in cut if s.id == pid) / 7 for pid in rate}  # type: ignore[union-attr]
    assert _keys(got) == sorted(
        (s.id, s.sample_index)
        for s in cut
        if 0.1 <= rate7[s.id] <= 0.9 and s.verdict and s.verdict.correct
    )


@pytest.mark.anyio
async def test_complete_groups_are_emitted_before_the_input_ends(shared_data: Path) -> None:
    samples = _cot_samples(shared_data)
    by_problem: dict[str, list[Sample]] = {}
    for s in samples:
        by_problem.setdefault(s.id, []).append(s)
    # A problem in the band and one that is not: [2 correct of 8, 8 of 8].
    mixed = next(g for g in by_problem.values() if 2 <= sum(s.verdict.correct for s in g) <= 6)  # type: ignore[union-attr]
    config = FormatConfig(pass_rate=(0.1, 0.9), samples_per_problem=8)
    send, receive = anyio.create_memory_object_stream[Any](100)
    out_send, out_receive = anyio.create_memory_object_stream[Any](100)
    async with anyio.create_task_group() as tg:
        tg.start_soon(format_stage(config), receive, out_send)
        for s in mixed[:-1]:
            await send.send(s)
        await anyio.wait_all_tasks_blocked()
        with pytest.raises(anyio.WouldBlock):
            out_receive.receive_nowait()  # the group is still open
        await send.send(mixed[-1])
        await anyio.wait_all_tasks_blocked()
        first = out_receive.receive_nowait()  # decided now, the input still open
        assert first.id.startswith(mixed[0].id)
        await send.aclose()
        with out_receive:
            rest = [e async for e in out_receive]
    assert len(rest) + 1 == sum(s.verdict.correct for s in mixed)  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_problem_own_n_sets_its_group_size() -> None:
    def sample(pid: str, i: int, ok: bool, n: int | None) -> Sample:
        extra = {"generation": {"n": n}} if n else {}
        return Sample(
            id=pid, domain="math", source="t", problem="p", sample_index=i,
            completion=f"{pid} {i}", verdict=_verdict(ok), extra=extra,
        )  # fmt: skip

    samples = [sample("a", 0, True, 2), sample("a", 1, False, 2)] + [
        sample("b", i, i == 0, None) for i in range(4)
    ]
    got, counts = await _select(samples, pass_rate="0.5:1", samples_per_problem=4)
    assert _keys(got) == [("a", 0)]  # b: 1 of 4
    assert counts == {
        "pass_rate_problems": 1,
        "pass_rate_samples": 1,
        "pass_rate_incomplete": 0,
    }


# --- duplicates ----------------------------------------------------------------------------


def _math_train(shared_data: Path) -> list[Problem]:
    problems = list(iter_problems(["math"], split="train", data_dir=str(shared_data)))
    assert len(problems) == 7498  # two have no gold answer
    return problems


def test_core_signatures_match_the_documented_rule() -> None:
    texts = [
        r"Find $\dfrac{1}{2}$ of the sum $\left(3+4\right)$, then ADD 5.",
        "short",
        "one two three four five six seven eight nine ten",
        "",
        "Übung: größte Zahl ist 42!",
    ]
    perms = permutations(32, 11)
    for text in texts:
        assert _core.dedup_tokens(text) == words(text)
        assert _core.shingle_hashes(text, 3) == shingles(text, 3)
        assert _core.minhash_signature(text, shingle=3, num_perm=32, seed=11) == signature(
            text, 3, perms
        )
    assert _core.text_keys(texts) == [text_key(t) for t in texts]
    assert _core.text_keys(["What is $1+1$?"]) == _core.text_keys(["what  IS 1 + 1"])
    assert _core.text_keys(["k > 0"]) != _core.text_keys(["k < 0"])


def test_minhash_estimates_exact_jaccard_on_real_pairs(shared_data: Path) -> None:
    problems = _math_train(shared_data)
    # Real pairs of MATH train problems at every similarity: candidates from a permissive
    # index (any shared band of 32), plus random pairs (similarity near 0).
    index = _core.MinHashIndex(shingle=3, num_perm=128, bands=64, threshold=0.0)
    texts = [p.problem for p in problems]
    pairs: set[tuple[int, int]] = set()
    for i, match in enumerate(index.insert(texts)):
        if match is not None:
            pairs.add((match, i))
    rng = random.Random(0)
    pairs |= {tuple(sorted(rng.sample(range(len(texts)), 2))) for _ in range(200)}  # type: ignore[misc]
    errors = []
    buckets = set()
    for a, b in sorted(pairs):
        sa, sb = set(_core.shingle_hashes(texts[a], 5)), set(_core.shingle_hashes(texts[b], 5))
        if not sa or not sb:
            continue
        exact = len(sa & sb) / len(sa | sb)
        siga = _core.minhash_signature(texts[a], shingle=5, num_perm=128)
        sigb = _core.minhash_signature(texts[b], shingle=5, num_perm=128)
        assert siga is not None and sigb is not None
        est = sum(x == y for x, y in zip(siga, sigb, strict=True)) / 128
        sigma = math.sqrt(max(exact * (1 - exact), 0.01) / 128)
        assert abs(est - exact) <= 5 * sigma + 1 / 128, (texts[a], texts[b], exact, est)
        errors.append(est - exact)
        buckets.add(round(exact, 1))
    assert len(errors) > 300
    assert {0.0, 0.5, 1.0} <= buckets  # the pairs span the whole range
    assert abs(sum(errors) / len(errors)) < 0.01  # unbiased


@pytest.mark.anyio
async def test_duplicate_problems_in_math_train(shared_data: Path) -> None:
    problems = _math_train(shared_data)
    samples = [
        Sample(**{**p.__dict__, "sample_index": 0, "completion": f"answer {p.id}",
                  "verdict": _verdict(True)})
        for p in problems
    ]  # fmt: skip
    got, counts = await _select(samples, dedup_problems="near")
    kept = {e.id.rsplit("#", 1)[0] for e in got}
    # Exact: the same words after normalisation, first id (in sorted order) kept.
    by_key: dict[int, list[str]] = {}
    for p in sorted(problems, key=lambda p: p.id):
        by_key.setdefault(text_key(p.problem), []).append(p.id)
    exact_dups = {i for ids in by_key.values() for i in ids[1:]}
    assert counts["duplicate_problems_exact"] == len(exact_dups) > 0
    assert not kept & exact_dups
    # Near: the plain Python rule over the same order removes the same problems.
    plain = PlainMinHashIndex()
    seen: set[int] = set()
    near: set[str] = set()
    for p in sorted(problems, key=lambda p: p.id):
        key = text_key(p.problem)
        if key in seen:
            continue
        seen.add(key)
        if plain.insert(p.problem) is not None:
            near.add(p.id)
    assert counts["duplicate_problems_near"] == len(near) > 0
    assert kept == {p.id for p in problems} - exact_dups - near
    assert counts["duplicate_problem_examples"] == len(exact_dups) + len(near)
    # Real cases: the same statement typed differently is an exact duplicate; statements that
    # differ in an operator are not ("88 \\div (4 \\div 2)" and "88 \\div 4 \\div 2", "k > 0"
    # and "k < 0"); a shared setup asking another value is a near duplicate.
    t = "math/train/"
    assert f"{t}algebra/2681" in kept and f"{t}intermediate_algebra/1777" in exact_dups
    assert {f"{t}prealgebra/574", f"{t}prealgebra/656"} <= kept
    assert {f"{t}algebra/1216", f"{t}algebra/1257"} <= kept
    assert f"{t}algebra/16" in kept and f"{t}algebra/169" in near  # f(3) and f(-7)


@pytest.mark.anyio
async def test_duplicate_completions_on_the_bundled_sample(verified_sample: list[Sample]) -> None:
    correct = [s for s in verified_sample if s.verdict and s.verdict.correct]
    # Two real completions again: one reworded in case and spacing (exact), one with its
    # last sentence changed (near).
    a, b = sorted(correct, key=lambda s: (s.id, s.sample_index))[:2]
    copy_a = Sample(**{**a.__dict__, "id": "zz/copy-a", "completion": a.completion.upper() + "  "})
    words = b.completion.split()
    assert len(words) > 60
    copy_b = Sample(
        **{**b.__dict__, "id": "zz/copy-b", "completion": " ".join([*words[:-3], "so", "done."])}
    )
    got, counts = await _select([*correct, copy_a, copy_b], dedup_completions="near")
    ids = {e.id.rsplit("#", 1)[0] for e in got}
    assert "zz/copy-a" not in ids and "zz/copy-b" not in ids
    assert counts["duplicate_completions_exact"] >= 1
    assert counts["duplicate_completions_near"] >= 1
    # Without the copies, the same rule in plain Python decides which real ones go.
    got, counts = await _select(correct, dedup_completions="near")
    plain = PlainMinHashIndex()
    seen: set[int] = set()
    want = []
    for s in sorted(correct, key=lambda s: (s.id, s.sample_index)):
        text = f"{s.reasoning}\n{s.completion}" if s.reasoning else s.completion
        key = text_key(text)
        if key in seen:
            continue
        seen.add(key)
        if plain.insert(text) is None:
            want.append((s.id, s.sample_index))
    assert _keys(got) == sorted(want)
    assert (
        len(got)
        == len(correct)
        - counts["duplicate_completions_exact"]
        - counts["duplicate_completions_near"]
    )


# --- mix -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_domain_and_source_mix_on_the_bundled_sample(verified_sample: list[Sample]) -> None:
    correct = [s for s in verified_sample if s.verdict and s.verdict.correct]
    by_domain: dict[str, list[Sample]] = {}
    for s in correct:
        by_domain.setdefault(s.domain, []).append(s)
    avail = {d: len(v) for d, v in by_domain.items()}
    assert avail["math"] > avail["code"] > 0
    got, counts = await _select(correct, mix="math=0.6,code=0.4", seed=5)
    # Largest total with 60:40 that fits: code is the limit.
    total = math.floor(avail["code"] / Fraction(2, 5))
    want_counts = mix_targets(avail, {"math": 0.6, "code": 0.4})
    assert sum(want_counts.values()) >= total
    assert {d: sum(e.domain == d for e in got) for d in avail} == want_counts
    assert counts["mix_counts"] == {
        d: {"available": avail[d], "kept": want_counts[d]} for d in sorted(avail)
    }
    assert counts["mix"] == len(correct) - len(got)
    want = sorted(
        (s.id, s.sample_index)
        for d, group in by_domain.items()
        for s in sorted(
            group, key=lambda s: (_rank(5, f"{s.id}#{s.sample_index}"), s.sample_index)
        )[: want_counts[d]]
    )
    assert _keys(got) == want
    # By source, with a source left out of the mix (dropped).
    got, counts = await _select(correct, mix="math500=1,apps=1", mix_by="source", seed=5)
    sources = {e.source for e in got}
    assert sources == {"math500", "apps"}
    n_apps = sum(s.source == "apps" for s in correct)
    assert sum(e.source == "apps" for e in got) == sum(e.source == "math500" for e in got) == n_apps


# --- command line and run ------------------------------------------------------------------


def _sfstream(*args: str, stdin: bytes | None = None) -> Any:
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "sfstream", *args], input=stdin, capture_output=True, check=False
    )


def test_format_command_applies_every_selection_option(
    verified_sample: list[Sample], tmp_path: Path
) -> None:
    path = tmp_path / "verified.jsonl"
    path.write_bytes(b"".join(orjson.dumps(s.to_dict()) + b"\n" for s in verified_sample))
    args = [
        "--keep", "shortest", "--max-per-problem", "2", "--pass-rate", "0:0.9",
        "--samples-per-problem", "2", "--dedup-completions", "near",
        "--mix", "math=3,code=1", "--seed", "9",
    ]  # fmt: skip
    proc = _sfstream("format", "-i", str(path), *args)
    assert proc.returncode == 0, proc.stderr.decode()
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    expected, counts = anyio.run(
        lambda: _select(
            verified_sample,
            keep="shortest",
            max_per_problem=2,
            pass_rate="0:0.9",
            samples_per_problem=2,
            dedup_completions="near",
            mix="math=3,code=1",
            seed=9,
        )
    )
    assert [r["id"] for r in rows] == [e.id for e in expected]
    assert counts["pass_rate_problems"] > 0 and counts["mix"] > 0
    assert re.search(rb"selection removed .*pass_rate_problems \d+", proc.stderr)
    bad = _sfstream("format", "-i", str(path), "--pass-rate", "2:3")
    assert bad.returncode != 0 and b"pass_rate" in bad.stderr


def test_run_reports_selection_and_writes_it_to_its_config(tmp_path: Path) -> None:
    toml = tmp_path / "run.toml"
    toml.write_text(
        '[format]\nkeep = "random"\nseed = 4\npass_rate = "0:0.99"\n'
        'mix = {math = 0.75, code = 0.25}\ndedup_problems = "near"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    proc = _sfstream("run", "--config", str(toml), "--out", str(out), "-q", "--select-seed", "6")
    assert proc.returncode == 0, proc.stderr.decode()
    report = json.loads((out / "report.json").read_text())
    sel = report["selection"]
    assert set(sel) >= {
        "keep",
        "pass_rate_problems",
        "duplicate_problems_near",
        "mix",
        "mix_counts",
    }
    train = [json.loads(x) for x in (out / "train.jsonl").read_bytes().splitlines()]
    assert report["stages"]["format"] == len(train)
    kept = sel["mix_counts"]
    assert {d: sum(r["domain"] == d for r in train) for d in kept} == {
        d: c["kept"] for d, c in kept.items()
    }
    assert {d: c["kept"] for d, c in kept.items()} == mix_targets(
        {d: c["available"] for d, c in kept.items()}, {"math": 0.75, "code": 0.25}
    )
    assert kept["code"]["kept"] == kept["code"]["available"] > 0  # code is the limit
    assert len({r["id"].rsplit("#", 1)[0] for r in train}) == len(train)  # one per problem
    assert b"selection removed" in (out / "report.txt").read_bytes()
    config = (out / "config.toml").read_text()
    assert 'keep = "random"' in config and "seed = 6" in config
    assert 'pass_rate = "0:0.99"' in config and 'mix = {"math" = 0.75, "code" = 0.25}' in config
    # The written configuration reads back to the same run (resumable with --config).
    again = _sfstream("run", "--config", str(out / "config.toml"), "-q")
    assert again.returncode == 0, again.stderr.decode()
    assert [json.loads(x)["id"] for x in (out / "train.jsonl").read_bytes().splitlines()] == [
        r["id"] for r in train
    ]


@pytest.mark.anyio
async def test_spooled_examples_keep_big_integers() -> None:
    def sample(pid: str, text: str) -> Sample:
        return Sample(
            id=pid, domain="math", source="t", problem=f"problem {pid}", sample_index=0,
            completion=text, verdict=_verdict(True),
            meta={"big": 2**70 + 1},
        )  # fmt: skip

    got, counts = await _select(
        [sample("b", "the same text"), sample("a", "The same text."), sample("c", "other")],
        dedup_completions="exact",
    )
    assert [e.id for e in got] == ["a#0", "c#0"]  # sorted; b repeats a
    assert counts["duplicate_completions_exact"] == 1
    assert all(e.meta["big"] == 2**70 + 1 for e in got)


def test_merge_sums_selection_counts() -> None:
    from sfstream.merge import _sum_reports

    one = {"selection": {"keep": 3, "mix": 1, "mix_counts": {"math": {"available": 5, "kept": 4}}}}
    two = {"selection": {"keep": 2, "mix_counts": {"math": {"available": 2, "kept": 2}}}}
    total = _sum_reports([one, two, {}])
    assert total.selection == {
        "keep": 5,
        "mix": 1,
        "mix_counts": {"math": {"available": 7, "kept": 6}},
    }
    assert "selection removed: keep 5, mix 1" in total.to_text()
    assert "mix kept: math 6/7" in total.to_text()
