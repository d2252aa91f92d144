"""Benchmarks of the generate stage (``make bench``).

1. sfstream against a plain httpx asyncio client at the same concurrency, on the same real vLLM
   server, with identical requests (same prompts and ``ignore_eos``, so both ask the
   server for exactly the same work): output tokens/s of each and their ratio. The server is
   the bottleneck by design: the question is whether sfstream keeps it as busy as the
   simplest possible client. The ``sfstream generate`` command (a subprocess reading and
   writing NDJSON, start-up included) is timed too.
2. The client's own ceiling: completions/s that sfstream drives against InstantFakeServer
   running in its own process, with a plain httpx client measured beside it.

Numbers go to ``benchmark.extra_info`` and are printed; what is asserted is correctness (every
sample arrived, ids and indices complete), never a speed ratio.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import orjson
import pytest
from server_process import server_process
from sfstream.generate import GenerateConfig, generate, request_seed
from sfstream.records import Problem
from sfstream.templates import DEFAULT_TEMPLATES

TESTS = Path(__file__).resolve().parents[1] / "tests"


def problems(count: int, prefix: str, lengths: list[int] | None = None) -> list[Problem]:
    """Problems; with ``lengths``, each carries its own ``max_tokens`` (varied lengths keep
    requests from finishing in lockstep waves, as real completions do not)."""
    return [
        Problem(
            id=f"{prefix}/{i}",
            domain="math",
            source="bench",
            problem=f"Compute {i} * {i + 3} and explain each step.",
            answer=str(i * (i + 3)),
            extra={"generation": {"max_tokens": lengths[i]}} if lengths else {},
        )
        for i in range(count)
    ]


async def feed(items: list[Problem]) -> AsyncIterator[Problem]:
    for item in items:
        yield item


async def run_sfstream(items: list[Problem], config: GenerateConfig) -> tuple[int, int, float]:
    """(samples, completion tokens, seconds); checks every (id, index) arrived once."""
    started = time.perf_counter()
    seen: set[tuple[str, int]] = set()
    tokens = 0
    async for sample in generate(feed(items), config):
        assert sample.finish_reason != "error", sample.extra.get("error")
        seen.add((sample.id, sample.sample_index))
        tokens += (sample.usage or {}).get("completion_tokens", 0)
    seconds = time.perf_counter() - started
    n = config.n or 1
    assert seen == {(p.id, i) for p in items for i in range(n)}
    return len(seen), tokens, seconds


def plain_bodies(items: list[Problem], config: GenerateConfig) -> list[bytes]:
    """The requests a hand-written client sends: the same fields sfstream sends."""
    out = []
    for p in items:
        template = DEFAULT_TEMPLATES[p.domain]
        body: dict[str, Any] = {
            "model": config.model,
            "messages": template.messages(p.problem, p.starter_code),
            "temperature": config.temperature,
            **config.extra_body,
            "n": config.n or 1,
            "max_tokens": p.extra.get("generation", {}).get("max_tokens", config.max_tokens),
        }
        if config.seed is not None:
            body["seed"] = request_seed(config.seed, p.id, 0)
        out.append(orjson.dumps(body))
    return out


async def run_plain(url: str, bodies: list[bytes], concurrency: int) -> tuple[int, int, float]:
    """A plain httpx asyncio client: a semaphore, one task per request, usage summed."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    done = tokens = 0
    async with httpx.AsyncClient(limits=limits, timeout=600) as client:
        semaphore = anyio.Semaphore(concurrency)

        async def one(body: bytes) -> None:
            nonlocal done, tokens
            async with semaphore:
                response = await client.post(
                    url, content=body, headers={"Content-Type": "application/json"}
                )
            response.raise_for_status()
            data = response.json()
            done += len(data["choices"])
            tokens += data["usage"]["completion_tokens"]

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for body in bodies:
                tg.start_soon(one, body)
        seconds = time.perf_counter() - started
    assert done == len(bodies)
    return done, tokens, seconds


# -- 1. against the real vLLM server ---------------------------------------------------------


@pytest.mark.vllm
@pytest.mark.timeout(900)
def test_vllm_tokens_per_second_vs_plain_httpx(
    vllm_server: Any, benchmark: Any, tmp_path: Path
) -> None:
    count, concurrency, max_tokens, rounds = 96, 16, 64, 5
    lengths = [32 + (i * 37) % 64 for i in range(count)]  # 32..95 tokens, mean ~64
    items = problems(count, "vllm", lengths)
    config = GenerateConfig(
        base_url=vllm_server.base_url,
        model=vllm_server.model,
        n=1,
        temperature=0.7,
        max_tokens=max_tokens,
        concurrency=concurrency,
        # Every completion runs to max_tokens: both clients ask for exactly the same work.
        # (No seed: vLLM 0.32 on CPU kills its engine when a seeded request's prefill is
        # split into chunks, "CPU Generator does not use offset".)
        extra_body={"ignore_eos": True},
    )
    bodies = plain_bodies(items, config)
    url = vllm_server.base_url + "/chat/completions"
    plain: list[float] = []
    ours: list[float] = []

    def plain_round() -> None:
        _, tokens, seconds = anyio.run(run_plain, url, bodies, concurrency)
        assert tokens == sum(lengths)
        plain.append(tokens / seconds)

    def our_round() -> None:
        _, tokens, seconds = anyio.run(run_sfstream, items, config)
        assert tokens == sum(lengths)
        ours.append(tokens / seconds)

    # Warm both (prefix cache, connections), then alternate: plain (setup), sfstream (timed).
    plain_round()
    our_round()
    plain.clear()
    ours.clear()
    benchmark.pedantic(our_round, setup=plain_round, rounds=rounds, iterations=1)

    # The command itself: a subprocess reading and writing NDJSON, start-up included.
    source = tmp_path / "problems.jsonl"
    source.write_bytes(b"".join(orjson.dumps(p.to_dict()) + b"\n" for p in items))
    out = tmp_path / "samples.jsonl"
    cli = [
        sys.executable,
        "-m",
        "sfstream",
        "generate",
        "-q",
        "-i",
        str(source),
        "-o",
        str(out),
        "--base-url",
        vllm_server.base_url,
        "--model",
        vllm_server.model,
        "--max-tokens",
        str(max_tokens),
        "--temperature",
        "0.7",
        "--concurrency",
        str(concurrency),
        "--extra-body",
        '{"ignore_eos": true}',
    ]
    started = time.perf_counter()
    subprocess.run(cli, check=True, timeout=600, env=_clean_env())
    cli_seconds = time.perf_counter() - started
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert sorted(r["id"] for r in rows) == sorted(p.id for p in items)
    cli_tokens = sum(r["usage"]["completion_tokens"] for r in rows)

    plain_median, ours_median = statistics.median(plain), statistics.median(ours)
    info = {
        "requests": count,
        "concurrency": concurrency,
        "completion_tokens_per_run": sum(lengths),
        "plain_httpx_tokens_per_s": [round(x, 1) for x in plain],
        "sfstream_tokens_per_s": [round(x, 1) for x in ours],
        "plain_httpx_median": round(plain_median, 1),
        "sfstream_median": round(ours_median, 1),
        "ratio_sfstream_over_plain": round(ours_median / plain_median, 3),
        "cli_tokens_per_s_with_startup": round(cli_tokens / cli_seconds, 1),
        "cli_seconds": round(cli_seconds, 2),
    }
    benchmark.extra_info.update(info)
    print("\nbenchmark 1 (real vLLM server):", orjson.dumps(info).decode())


# -- 2. the client's own ceiling -------------------------------------------------------------


@pytest.fixture(scope="module")
def instant_server() -> Any:
    """InstantFakeServer in a process of its own, so it does not share our interpreter."""
    with server_process(TESTS / "instant_fake_server.py") as url:
        yield url


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("SFSTREAM_", "OPENAI_"))}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("concurrency", [32, 256])
def test_client_ceiling_against_an_instant_server(
    instant_server: str, benchmark: Any, concurrency: int
) -> None:
    count = 6000
    items = problems(count, "ceiling")
    config = GenerateConfig(
        base_url=instant_server, model="fake", n=1, max_tokens=8, concurrency=concurrency
    )
    rates: list[float] = []

    def our_round() -> None:
        done, _, seconds = anyio.run(run_sfstream, items, config)
        rates.append(done / seconds)

    our_round()  # warm-up
    rates.clear()
    benchmark.pedantic(our_round, rounds=3, iterations=1)

    # The plain httpx client on the same server, for scale (fewer requests: it is slow).
    bodies = plain_bodies(items[:1500], config)
    done, _, seconds = anyio.run(
        run_plain, instant_server + "/chat/completions", bodies, concurrency
    )
    info = {
        "concurrency": concurrency,
        "completions": count,
        "sfstream_completions_per_s": [round(x) for x in rates],
        "sfstream_median": round(statistics.median(rates)),
        "plain_httpx_completions_per_s": round(done / seconds),
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 1),
    }
    benchmark.extra_info.update(info)
    print(
        f"\nbenchmark 2 (instant server, concurrency {concurrency}):", orjson.dumps(info).decode()
    )
