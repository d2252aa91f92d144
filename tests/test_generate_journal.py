"""Crash-safe resume: the journal's reuse rules against InstantFakeServer (fast and exact), and
kill -9 of a real ``sfstream generate --journal`` subprocess against the real vLLM server."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from fault_proxy import FaultInjectingProxy
from instant_fake_server import InstantFakeServer
from sfstream._journal import Journal
from sfstream.errors import ConfigError
from sfstream.generate import GenerateConfig
from sfstream.progress import StageProgress
from sfstream.records import Problem, Sample
from stage_helpers import math_problems, run_generate, sample_keys


def problems(count: int, prefix: str = "j") -> list[Problem]:
    return math_problems(count, prefix, times=True)


def lengthy(body: dict[str, Any], index: int) -> tuple[str, str]:
    """Odd samples need 100 tokens: below that they are cut off ("length")."""
    limit = body.get("max_tokens") or body.get("max_completion_tokens")
    seed = body.get("seed")
    text = f"t={body['temperature']} seed={seed} i={index}"
    if index % 2 and limit < 100:
        return text + " (cut)", "length"
    return text, "stop"


@pytest.mark.anyio
@pytest.mark.timeout(60)
async def test_rerun_reuses_everything_and_emits_it_again(tmp_path: Path) -> None:
    journal = tmp_path / "run.journal"
    items = problems(20)
    with InstantFakeServer(lengthy) as server:
        config = GenerateConfig(
            base_url=server.base_url,
            model="m",
            n=3,
            max_tokens=50,
            seed=4,
            journal=str(journal),
        )
        first = await run_generate(config, items)
        assert server.requests == 20
        progress = StageProgress("generate")
        again = await run_generate(config, items, progress)
        assert server.requests == 20  # nothing asked again
    assert (
        sample_keys(first)
        == sample_keys(again)
        == sorted((p.id, i) for p in items for i in range(3))
    )
    assert {(s.id, s.sample_index): s for s in first} == {(s.id, s.sample_index): s for s in again}
    assert progress.reused == 60 and progress.samples == 60 and progress.done == 20
    assert len(journal.read_bytes().splitlines()) == 60


@pytest.mark.anyio
@pytest.mark.timeout(60)
async def test_changed_parameters_change_the_key(tmp_path: Path) -> None:
    journal = str(tmp_path / "run.journal")
    items = problems(5)
    with InstantFakeServer(lengthy) as server:
        base = {"base_url": server.base_url, "model": "m", "n": 2, "max_tokens": 200}
        await run_generate(GenerateConfig(**base, journal=journal), items)
        assert server.requests == 5
        for changed in (
            {"temperature": 0.1},
            {"seed": 9},
            {"top_p": 0.5},
            {"extra_body": {"top_k": 3}},
            {"endpoint": "completions"},
        ):
            before = server.requests
            progress = StageProgress("generate")
            await run_generate(GenerateConfig(**base, **changed, journal=journal), items, progress)
            assert server.requests == before + 5, changed
            assert progress.reused == 0, changed
        # More samples per problem: the first two are reused, only the rest requested.
        server.keep_bodies = True
        progress = StageProgress("generate")
        samples = await run_generate(
            GenerateConfig(**{**base, "n": 3}, journal=journal), items, progress
        )
    assert progress.reused == 10 and len(samples) == 15
    assert [b["n"] for b in server.bodies] == [1] * 5


@pytest.mark.anyio
@pytest.mark.timeout(60)
async def test_raising_max_tokens_reuses_finished_samples(tmp_path: Path) -> None:
    # curator #697: a larger limit must not throw away samples that stopped on their own.
    journal = str(tmp_path / "run.journal")
    items = problems(6)
    with InstantFakeServer(lengthy, keep_bodies=True) as server:
        base = {"base_url": server.base_url, "model": "m", "n": 4, "seed": 1, "journal": journal}
        short = await run_generate(GenerateConfig(**base, max_tokens=50), items)
        assert {s.sample_index for s in short if s.finish_reason == "length"} == {1, 3}
        server.bodies.clear()
        progress = StageProgress("generate")
        longer = await run_generate(GenerateConfig(**base, max_tokens=200), items, progress)
        # Only the truncated samples (indices 1 and 3) were asked again, in one request each.
        assert [(b["n"], b["max_tokens"]) for b in server.bodies] == [(2, 200)] * 6
        assert progress.reused == 12
        assert sample_keys(longer) == sorted((p.id, i) for p in items for i in range(4))
        assert all(s.finish_reason == "stop" for s in longer)
        # The same limit again: everything reused, the truncated ones of the first run too.
        server.bodies.clear()
        progress = StageProgress("generate")
        await run_generate(GenerateConfig(**base, max_tokens=50), items, progress)
        assert server.bodies == [] and progress.reused == 24


def sample(ident: str, index: int, finish: str = "stop") -> Sample:
    return Sample(
        id=ident,
        domain="math",
        source="t",
        problem="p",
        sample_index=index,
        model="m",
        completion=f"c{index}",
        finish_reason=finish,
        usage={"completion_tokens": 1},
    )


@pytest.mark.anyio
async def test_journal_file_rules(tmp_path: Path) -> None:
    path = tmp_path / "j.journal"
    async with Journal(path) as journal:
        journal.append([sample("a", 0), sample("a", 1, "error"), sample("a", 2)], "h", 8)
        assert journal.written == 2
        # One run at a time.
        with pytest.raises(ConfigError, match="in use"):
            async with Journal(path):
                pass
    assert len(path.read_bytes().splitlines()) == 2  # the error sample is not journaled
    # A crash in the middle of a line leaves a torn tail: dropped on opening.
    path.write_bytes(path.read_bytes() + b'{"id": "a", "sample_index": 1, "requ')
    async with Journal(path) as journal:
        assert journal.loaded == 2
        assert journal.lookup("a", 0, "h", 8) == {
            "model": "m",
            "completion": "c0",
            "reasoning": None,
            "finish_reason": "stop",
            "usage": {"completion_tokens": 1},
        }
        assert journal.lookup("a", 1, "h", 8) is None
        assert journal.lookup("a", 0, "other", 8) is None
        assert journal.lookup("a", 0, "h", 16) is not None  # stopped under a smaller limit
        assert journal.lookup("a", 0, "h", 4) is None  # a smaller limit: not the same sample
        journal.append([sample("a", 1, "length")], "h", 8)
        assert journal.lookup("a", 1, "h", 16) is None  # truncated: not reused for more
    lines = path.read_bytes().splitlines()
    assert len(lines) == 3 and all(orjson.loads(line)["id"] == "a" for line in lines)


@pytest.mark.anyio
@pytest.mark.timeout(60)
async def test_a_large_journal_is_read_line_by_line(tmp_path: Path) -> None:
    # Lines of varying length over several of the reader's 64 KiB chunks, with an unreadable
    # line among them: every sample is found where it was written, integers stay exact.
    path = tmp_path / "j.journal"
    big = 10**20 + 1
    async with Journal(path) as journal:
        for i in range(600):
            s = dataclasses.replace(
                sample(f"p{i}", 0),
                completion="x" * (i * 7 % 1000),
                usage={"completion_tokens": i, "seed": big},
            )
            journal.append([s], "h", 8)
    with path.open("ab") as f:
        f.write(b"not json\n")
    async with Journal(path) as journal:
        assert journal.loaded == 600
        journal.append([sample("late", 0)], "h", 8)
        for i in range(600):
            got = journal.lookup(f"p{i}", 0, "h", 8)
            assert got is not None
            assert got["completion"] == "x" * (i * 7 % 1000)
            assert got["usage"] == {"completion_tokens": i, "seed": big}
        # Appends are not indexed (a run looks each problem up once, before requesting it, so
        # the index stays the size of what was there when the journal was opened) ...
        assert journal.lookup("late", 0, "h", 8) is None
    # ... and are found once it is opened again.
    async with Journal(path) as journal:
        assert journal.loaded == 601
        assert journal.lookup("late", 0, "h", 8) is not None
    assert path.stat().st_size > 4 * 65536


@pytest.mark.anyio
async def test_unwritable_journal_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot open journal"):
        async with Journal(blocker / "j.journal"):
            pass


# -- kill -9 against the real server ---------------------------------------------------------


def journal_keys(path: Path) -> list[tuple[str, int]]:
    out = []
    for line in path.read_bytes().split(b"\n"):
        if line.strip():
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # the torn tail the kill may leave
            out.append((row["id"], row["sample_index"]))
    return out


def output_keys(path: Path) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    if not path.exists():  # -o FILE appears only when the run ends
        return out
    for line in path.read_bytes().split(b"\n"):
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        out.append((row["id"], row["sample_index"]))
    return out


@pytest.mark.vllm
@pytest.mark.timeout(240)
def test_kill_9_and_rerun_loses_and_repeats_nothing(vllm_server: Any, tmp_path: Path) -> None:
    count, n = 40, 2
    items = problems(count, "kill")
    source = tmp_path / "problems.jsonl"
    source.write_bytes(b"".join(orjson.dumps(p.to_dict()) + b"\n" for p in items))
    journal = tmp_path / "gen.journal"
    expected = sorted((p.id, i) for p in items for i in range(n))

    def command(proxy: FaultInjectingProxy, out: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "sfstream",
            "generate",
            "-i",
            str(source),
            "-o",
            str(out),
            "--base-url",
            proxy.base_url,
            "--model",
            vllm_server.model,
            "-n",
            str(n),
            "--max-tokens",
            "8",
            "--seed",
            "3",
            "--concurrency",
            "3",
            "--journal",
            str(journal),
        ]

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SFSTREAM_", "OPENAI_"))}
    # The proxy slows every request so the kill lands mid-run.
    with FaultInjectingProxy(vllm_server.root, {}, delay=0.25) as proxy:
        first_out = tmp_path / "first.jsonl"
        proc = subprocess.Popen(
            command(proxy, first_out), env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 120
        while not journal.exists() or len(journal_keys(journal)) < 20:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.stderr is not None
        proc.stderr.close()
        answered_first = proxy.answered
    journaled = journal_keys(journal)
    assert len(journaled) < count * n, "the run finished before the kill"
    assert len(set(journaled)) == len(journaled)
    # Nothing was emitted unjournaled (-o FILE writes FILE.partial until the run ends).
    emitted = output_keys(first_out.with_name(first_out.name + ".partial"))
    assert set(emitted) <= set(journaled)
    done_first = {ident for ident, _ in journaled}
    # Responses in transit at the kill (at most one per request in flight) were lost.
    assert answered_first - len(done_first) <= 3

    with FaultInjectingProxy(vllm_server.root, {}) as proxy:
        second_out = tmp_path / "second.jsonl"
        proc2 = subprocess.run(
            command(proxy, second_out), env=env, capture_output=True, text=True, timeout=180
        )
        asked = [r.body["messages"][1]["content"] for r in proxy.seen]
    assert proc2.returncode == 0, proc2.stderr
    # Every sample exactly once; journaled ones emitted again.
    assert sorted(output_keys(second_out)) == expected
    # Only problems without a journaled response were requested, each once.
    asked_ids = {p.id for p in items for text in asked if f"What is {p.id.split('/')[1]} " in text}
    assert len(asked) == count - len(done_first) == len(asked_ids)
    assert not asked_ids & done_first
    reused = len(journaled)
    assert f"{reused} sample(s) reused from journal" in proc2.stderr
    assert sorted(journal_keys(journal)) == expected  # journal complete, no duplicates
    print(
        f"kill -9: {len(journaled)} of {count * n} samples journaled, {len(emitted)} emitted, "
        f"{answered_first} responses sent by the server before the kill; rerun asked "
        f"{len(asked)} requests for {count - len(done_first)} problems, reused {reused}"
    )
    # The reused samples are the journaled ones, byte for byte in their generated fields.
    first_rows = {
        (r["id"], r["sample_index"]): r["completion"]
        for r in map(orjson.loads, journal.read_bytes().splitlines()[:reused])
    }
    second_rows = {
        (r["id"], r["sample_index"]): r["completion"]
        for r in map(orjson.loads, second_out.read_bytes().splitlines())
    }
    assert all(second_rows[k] == v for k, v in first_rows.items())


@pytest.mark.anyio
@pytest.mark.timeout(30)
async def test_journal_fsyncs_in_the_background(tmp_path: Path) -> None:
    path = tmp_path / "j.journal"
    async with Journal(path, sync_interval=0.01) as journal:
        async with anyio.create_task_group() as tg:
            tg.start_soon(journal.sync_forever)
            journal.append([sample("a", 0)], "h", 8)
            await anyio.sleep(0.1)
            assert not journal._dirty
            tg.cancel_scope.cancel()
