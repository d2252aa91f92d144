"""The generate stage: config, replay backend, and the OpenAI backend against a real vLLM server
(directly and through a fault-injecting proxy)."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import pytest
from fault_proxy import FaultInjectingProxy
from sfstream.backends.openai import backoff_delay, parse_retry_after
from sfstream.backends.replay import bundled_completions
from sfstream.errors import ConfigError, GenerationError
from sfstream.generate import (
    GenerateConfig,
    SamplingParams,
    generate,
    generate_stage,
    request_seed,
    split_reasoning,
)
from sfstream.pipeline import iterate_stage
from sfstream.progress import StageProgress
from sfstream.records import Problem, Sample
from stage_helpers import aiter_of

DATA = Path(__file__).resolve().parents[1] / "python" / "sfstream" / "data"


def math_problem(ident: str = "t/math/1", text: str = "What is 1 + 1?", **extra: Any) -> Problem:
    return Problem(id=ident, domain="math", source="test", problem=text, answer="2", extra=extra)


def code_problem(ident: str = "t/code/1") -> Problem:
    return Problem(
        id=ident,
        domain="code",
        source="test",
        problem="Print the sum of a and b.",
        tests={"inputs": ["1 2\n"], "outputs": ["3\n"], "fn_name": None},
    )


async def collect_samples(
    problems: Iterable[Problem], config: GenerateConfig | None = None, **overrides: Any
) -> list[Sample]:
    return [s async for s in generate(aiter_of(problems), config, **overrides)]


def by_key(samples: Iterable[Sample]) -> dict[tuple[str, int], Sample]:
    return {(s.id, s.sample_index): s for s in samples}


# -- configuration ---------------------------------------------------------------------------


def test_config_reads_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFSTREAM_BASE_URL", "http://example.invalid/v1")
    monkeypatch.setenv("SFSTREAM_MODEL", "m")
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    config = GenerateConfig()
    assert (config.base_url, config.model, config.api_key) == (
        "http://example.invalid/v1",
        "m",
        "k",
    )
    assert config.n is None and config.concurrency == 64 and config.timeout == 3600.0
    assert config.max_retries == 8 and config.endpoint == "chat"


def test_missing_server_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SFSTREAM_BASE_URL", raising=False)
    monkeypatch.delenv("SFSTREAM_MODEL", raising=False)
    with pytest.raises(ConfigError, match="SFSTREAM_BASE_URL"):
        generate_stage(GenerateConfig())
    with pytest.raises(ConfigError, match="SFSTREAM_MODEL"):
        generate_stage(GenerateConfig(base_url="http://127.0.0.1:1/v1"))
    generate_stage(GenerateConfig(backend="replay"))  # replay needs neither


@pytest.mark.parametrize(
    "bad",
    [
        {"n": 0},
        {"concurrency": 0},
        {"max_retries": -1},
        {"endpoint": "embeddings"},
        {"backend": "hf"},
        {"temperature": -1.0},
        {"top_p": 0.0},
        {"timeout": 0.0},
        {"stop": "x"},
    ],
)
def test_bad_config_values(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        GenerateConfig(**bad)


@pytest.mark.anyio
async def test_unknown_override_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="temprature"):
        await collect_samples([math_problem()], backend="replay", temprature=0.5)


def test_sampling_params_defaults_and_overrides() -> None:
    config = GenerateConfig(backend="replay")
    assert SamplingParams.resolve(config, math_problem()) == SamplingParams(None, 0.7, 512, None)
    assert SamplingParams.resolve(config, code_problem()) == SamplingParams(None, 0.8, 1024, None)
    config = GenerateConfig(backend="replay", n=2, temperature=0.1, max_tokens=64, top_p=0.9)
    assert SamplingParams.resolve(config, code_problem()) == SamplingParams(2, 0.1, 64, 0.9)
    own = math_problem(generation={"n": 5, "temperature": 1.0, "max_tokens": 8})
    assert SamplingParams.resolve(config, own) == SamplingParams(5, 1.0, 8, 0.9)


def test_split_reasoning() -> None:
    assert split_reasoning("plain answer") == ("plain answer", None)
    assert split_reasoning("<think>\nhmm\n</think>\n\nThe answer is 2.") == (
        "The answer is 2.",
        "hmm",
    )
    # A truncated trace: everything is reasoning.
    assert split_reasoning("<think>still thinking") == ("", "still thinking")
    # DeepSeek-R1's template opens the block itself.
    assert split_reasoning("hmm\n</think>\nIt is 2.") == ("It is 2.", "hmm")
    assert split_reasoning("a <think> b </think> c") == ("a <think> b </think> c", None)


def test_request_seed_is_stable_and_distinct() -> None:
    assert request_seed(1, "a", 0) == request_seed(1, "a", 0)
    seeds = {request_seed(s, i, k) for s in (1, 2) for i in ("a", "b") for k in (0, 3)}
    assert len(seeds) == 8
    assert all(0 <= s < 2**31 for s in seeds)


def test_backoff_and_retry_after() -> None:
    rng = random.Random(0)
    delays = [backoff_delay(a, 1.0, 60.0, rng) for a in range(10)]
    assert all(0 <= d <= min(60.0, 2.0**a) for a, d in enumerate(delays))
    assert 2.0 <= backoff_delay(0, 1.0, 60.0, rng, retry_after=2.0) <= 2.2
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("99999999") == 600.0


# -- replay ----------------------------------------------------------------------------------


def bundled_problems() -> list[Problem]:
    return [
        Problem.from_dict(orjson.loads(line))
        for line in (DATA / "problems.jsonl").read_bytes().splitlines()
        if line.strip()
    ]


def recorded_rows() -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in bundled_completions().splitlines() if line.strip()]


@pytest.mark.anyio
async def test_replay_bundled_gives_every_recorded_sample_in_order() -> None:
    problems = bundled_problems()
    progress = StageProgress("generate")
    stage = generate_stage(GenerateConfig(backend="replay"), progress)
    samples = [s async for s in iterate_stage(stage, aiter_of(problems))]
    rows = recorded_rows()
    assert len(samples) == len(rows)
    assert [s.id for s in samples] == sorted(
        (s.id for s in samples), key=[p.id for p in problems].index
    )
    recorded = {(r["id"], r["sample_index"]): r for r in rows}
    for s in samples:
        r = recorded[s.id, s.sample_index]
        assert (s.completion, s.model, s.finish_reason) == (
            r["completion"],
            r["model"],
            r["finish_reason"],
        )
        assert s.extra.get("recorded_correct") == r["recorded_correct"]
    assert progress.done == len(problems) and progress.in_flight == 0
    assert progress.errors == 0


@pytest.mark.anyio
async def test_replay_n_caps_and_missing_problem_is_an_error_sample() -> None:
    problems = [*bundled_problems()[:3], math_problem("nowhere/1")]
    samples = await collect_samples(problems, backend="replay", n=1)
    assert [(s.id, s.sample_index) for s in samples] == [(p.id, 0) for p in problems]
    missing = samples[-1]
    assert missing.finish_reason == "error" and missing.completion == ""
    assert missing.extra["error"] == "no recorded completion for nowhere/1"
    # An explicit n gives n error samples for a problem with nothing recorded.
    samples = await collect_samples([math_problem("nowhere/2")], backend="replay", n=3)
    assert [s.sample_index for s in samples] == [0, 1, 2]


@pytest.mark.anyio
async def test_replay_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "recorded.jsonl"
    rows = [
        {
            "id": "t/math/1",
            "sample_index": 1,
            "model": "m",
            "completion": "B",
            "reasoning": None,
            "finish_reason": "length",
            "usage": {"completion_tokens": 7},
            "note": "kept",
        },
        {
            "id": "t/math/1",
            "sample_index": 0,
            "model": "m",
            "completion": "A",
            "reasoning": "think",
            "finish_reason": "stop",
            "usage": None,
        },
    ]
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    progress = StageProgress("generate")
    stage = generate_stage(GenerateConfig(backend="replay", replay_path=str(path)), progress)
    samples = [s async for s in iterate_stage(stage, aiter_of([math_problem(tag="mine")]))]
    assert [(s.sample_index, s.completion, s.reasoning) for s in samples] == [
        (0, "A", "think"),
        (1, "B", None),
    ]
    assert samples[1].extra == {"note": "kept", "tag": "mine"}
    assert samples[1].usage == {"completion_tokens": 7} and progress.tokens == 7
    # Samples survive the NDJSON round trip.
    assert Sample.from_dict(orjson.loads(orjson.dumps(samples[1].to_dict()))) == samples[1]


@pytest.mark.anyio
async def test_replay_bad_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "sample_index": 0, "completion": "x"}\n{"id": "b"}\n')
    with pytest.raises(ConfigError, match="line 2"):
        await collect_samples([math_problem()], backend="replay", replay_path=str(path))
    with pytest.raises(ConfigError, match="cannot read"):
        await collect_samples(
            [math_problem()], backend="replay", replay_path=str(tmp_path / "missing.jsonl")
        )


@pytest.mark.anyio
async def test_bad_generation_override_is_an_error_sample() -> None:
    problem = bundled_problems()[0]
    problem = Problem.from_dict({**problem.to_dict(), "generation": {"n": "two"}})
    [sample] = await collect_samples([problem], backend="replay")
    assert sample.finish_reason == "error" and "generation.n" in sample.extra["error"]


# -- unreachable server ----------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.anyio
@pytest.mark.timeout(30)
async def test_unreachable_server_stops_the_run() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    progress = StageProgress("generate")
    stage = generate_stage(GenerateConfig(base_url=url, model="m", max_retries=1), progress)
    # The spine raises the error itself, not the task groups' exception group around it.
    with pytest.raises(GenerationError) as info:
        async for _ in iterate_stage(stage, aiter_of([math_problem()])):
            pass
    assert f"cannot connect to {url}" in str(info.value)
    assert "gave up after 2 attempts" in str(info.value)
    assert progress.retries == 1
    with pytest.raises(GenerationError):
        await collect_samples([math_problem()], base_url=url, model="m", max_retries=0)


# -- the real vLLM server --------------------------------------------------------------------

vllm = pytest.mark.vllm
asyncio_only = pytest.mark.parametrize("anyio_backend", ["asyncio"])


def on(server: Any, **kwargs: Any) -> GenerateConfig:
    kwargs.setdefault("max_tokens", 24)
    return GenerateConfig(base_url=server.base_url, model=server.model, **kwargs)


@vllm
@pytest.mark.anyio
@pytest.mark.timeout(120)
async def test_chat_n_samples(vllm_server: Any) -> None:
    progress = StageProgress("generate")
    stage = generate_stage(on(vllm_server, n=3, seed=7), progress)
    samples = [s async for s in iterate_stage(stage, aiter_of([math_problem(), code_problem()]))]
    assert len(samples) == 6
    for ident in ("t/math/1", "t/code/1"):
        mine = [s for s in samples if s.id == ident]
        assert sorted(s.sample_index for s in mine) == [0, 1, 2]
        for s in mine:
            assert s.model == "tiny-llama"
            assert s.finish_reason in ("stop", "length")
            assert s.usage is not None and s.usage["prompt_tokens"] > 0
            assert s.usage["completion_tokens"] > 0 and s.usage["shared_by"] == 3
            assert "error" not in s.extra
    code = next(s for s in samples if s.domain == "code")
    assert code.tests == code_problem().tests  # the problem's fields ride along
    assert progress.done == 2 and progress.in_flight == 0 and progress.errors == 0
    assert progress.tokens == sum(s.usage["completion_tokens"] for s in samples) // 3


@vllm
@pytest.mark.anyio
@asyncio_only
@pytest.mark.timeout(120)
async def test_seed_reproduces(vllm_server: Any) -> None:
    problems = [math_problem(), code_problem()]

    async def run(seed: int) -> dict[tuple[str, int], str]:
        samples = await collect_samples(problems, on(vllm_server, n=2, seed=seed, temperature=1.0))
        return {k: s.completion for k, s in by_key(samples).items()}

    first, again, other = await run(11), await run(11), await run(12)
    assert first == again
    assert first != other
    assert len(set(first.values())) == 4  # samples of one request differ too


@vllm
@pytest.mark.anyio
@asyncio_only
@pytest.mark.timeout(120)
async def test_prompt_too_long_is_error_samples(vllm_server: Any) -> None:
    long = math_problem("t/long", "7 " * 4000)
    progress = StageProgress("generate")
    stage = generate_stage(on(vllm_server, n=2), progress)
    samples = [s async for s in iterate_stage(stage, aiter_of([long, math_problem()]))]
    bad = [s for s in samples if s.id == "t/long"]
    good = [s for s in samples if s.id != "t/long"]
    assert [s.sample_index for s in sorted(bad, key=lambda s: s.sample_index)] == [0, 1]
    for s in bad:
        assert s.finish_reason == "error" and s.completion == "" and s.usage is None
        assert s.extra["error"].startswith("HTTP 400: ")
        assert "maximum context length is 2048 tokens" in s.extra["error"]
    assert len(good) == 2 and all(s.finish_reason != "error" for s in good)
    assert progress.errors == 2 and progress.retries == 0


@vllm
@pytest.mark.anyio
@pytest.mark.timeout(120)
async def test_completions_endpoint(vllm_server: Any) -> None:
    samples = await collect_samples(
        [math_problem()], on(vllm_server, endpoint="completions", n=2, seed=3)
    )
    assert sorted(s.sample_index for s in samples) == [0, 1]
    assert all(s.completion and s.finish_reason in ("stop", "length") for s in samples)
    assert all(s.model == "tiny-llama" and s.usage for s in samples)


@vllm
@pytest.mark.anyio
@asyncio_only
@pytest.mark.timeout(120)
async def test_per_choice_usage_and_overrides(vllm_server: Any) -> None:
    # vLLM returns each choice's token ids on request: usage then is exact per sample.
    problem = math_problem(generation={"n": 3, "max_tokens": 5})
    samples = await collect_samples(
        [problem], on(vllm_server, n=1, extra_body={"return_token_ids": True})
    )
    assert len(samples) == 3
    for s in samples:
        assert s.usage is not None and "shared_by" not in s.usage
        assert 1 <= s.usage["completion_tokens"] <= 5
        assert s.usage["total_tokens"] == s.usage["prompt_tokens"] + s.usage["completion_tokens"]


@vllm
@pytest.mark.anyio
@asyncio_only
@pytest.mark.timeout(180)
async def test_many_problems_concurrently(vllm_server: Any) -> None:
    problems = [math_problem(f"t/many/{i}", f"What is {i} + {i}?") for i in range(24)]
    progress = StageProgress("generate", total=len(problems))
    stage = generate_stage(on(vllm_server, n=2, max_tokens=8, concurrency=8), progress)
    samples = [s async for s in iterate_stage(stage, aiter_of(problems))]
    assert sorted(by_key(samples)) == sorted((p.id, i) for p in problems for i in range(2))
    assert progress.done == 24 and progress.errors == 0 and progress.in_flight == 0


@vllm
@pytest.mark.anyio
@asyncio_only
@pytest.mark.timeout(60)
async def test_wrong_model_name_stops_the_run(vllm_server: Any) -> None:
    config = GenerateConfig(base_url=vllm_server.base_url, model="no-such-model")
    with pytest.raises(GenerationError, match="does not exist"):
        await collect_samples([math_problem()], config)


# -- faults, through FaultInjectingProxy -----------------------------------------------------


@vllm
@pytest.mark.anyio
@pytest.mark.timeout(120)
async def test_retries_through_faults(vllm_server: Any) -> None:
    problems = [math_problem(f"t/retry/{i}", f"What is {i} times 3?") for i in range(4)]
    faults = {1: "429", 2: "500", 3: "reset", 6: "503"}
    with FaultInjectingProxy(vllm_server.root, faults, retry_after="1") as proxy:
        progress = StageProgress("generate")
        config = GenerateConfig(
            base_url=proxy.base_url,
            model=vllm_server.model,
            n=2,
            max_tokens=8,
            seed=5,
            concurrency=1,
        )
        stage = generate_stage(config, progress)
        samples = [s async for s in iterate_stage(stage, aiter_of(problems))]
        seen = proxy.seen
        assert proxy.errors == []
    assert sorted(by_key(samples)) == sorted((p.id, i) for p in problems for i in range(2))
    assert all(s.finish_reason != "error" for s in samples)
    assert progress.retries == 4 and progress.errors == 0
    assert len(seen) == len(problems) + 4
    # The 429's Retry-After was honoured; a retry repeats the same request.
    assert seen[1].at - seen[0].at >= 1.0
    assert seen[0].body == seen[1].body == seen[2].body == seen[3].body
    # Retried samples are the same as unfaulted ones (same derived seed).
    direct = await collect_samples(
        problems,
        GenerateConfig(
            base_url=vllm_server.base_url, model=vllm_server.model, n=2, max_tokens=8, seed=5
        ),
    )
    assert {k: s.completion for k, s in by_key(direct).items()} == {
        k: s.completion for k, s in by_key(samples).items()
    }


@vllm
@pytest.mark.anyio
@asyncio_only
@pytest.mark.timeout(120)
async def test_exhausted_retries_are_error_samples(vllm_server: Any) -> None:
    problems = [math_problem("t/doomed"), math_problem("t/fine")]

    def plan(number: int) -> str | None:
        return "500" if number <= 3 else None  # the first problem's 3 attempts all fail

    with FaultInjectingProxy(vllm_server.root, plan) as proxy:
        progress = StageProgress("generate")
        config = GenerateConfig(
            base_url=proxy.base_url,
            model=vllm_server.model,
            n=2,
            max_tokens=8,
            max_retries=2,
            concurrency=1,
        )
        started = time.monotonic()
        stage = generate_stage(config, progress)
        samples = [s async for s in iterate_stage(stage, aiter_of(problems))]
        assert time.monotonic() - started < 30
    doomed = [s for s in samples if s.id == "t/doomed"]
    assert len(doomed) == 2 and all(s.finish_reason == "error" for s in doomed)
    assert all(
        "HTTP 500: injected: server error (gave up after 3 attempts)" == s.extra["error"]
        for s in doomed
    )
    assert [s.finish_reason != "error" for s in samples if s.id == "t/fine"] == [True, True]
    assert progress.retries == 2 and progress.errors == 2


@vllm
@pytest.mark.anyio
@asyncio_only
@pytest.mark.timeout(60)
async def test_request_shape(vllm_server: Any) -> None:
    with FaultInjectingProxy(vllm_server.root, {}) as proxy:
        samples = await collect_samples(
            [math_problem()],
            GenerateConfig(
                base_url=proxy.base_url,
                model=vllm_server.model,
                n=4,
                max_tokens=4,
                seed=1,
                top_p=0.9,
                stop=["\n\n"],
                extra_body={"top_k": 20},
                api_key="sekrit",
            ),
        )
        [request] = proxy.seen
    assert len(samples) == 4
    body = request.body
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sekrit"
    assert body["model"] == "tiny-llama"
    assert body["n"] == 4 and body["max_tokens"] == 4 and body["temperature"] == 0.7
    assert body["top_p"] == 0.9 and body["stop"] == ["\n\n"] and body["top_k"] == 20
    assert body["seed"] == request_seed(1, "t/math/1", 0)
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "Therefore, the answer is" in body["messages"][1]["content"]


@vllm
@pytest.mark.anyio
@asyncio_only
@pytest.mark.timeout(60)
async def test_fewer_choices_than_asked_are_topped_up(vllm_server: Any) -> None:
    # A server that ignores n (the proxy keeps only the first choice of the first response).
    with FaultInjectingProxy(vllm_server.root, {1: "one-choice"}) as proxy:
        samples = await collect_samples(
            [math_problem()],
            GenerateConfig(
                base_url=proxy.base_url, model=vllm_server.model, n=3, max_tokens=4, seed=9
            ),
        )
        seen = proxy.seen
    assert sorted(s.sample_index for s in samples) == [0, 1, 2]
    assert [r.body["n"] for r in seen] == [3, 2]
    assert [r.body["seed"] for r in seen] == [
        request_seed(9, "t/math/1", 0),
        request_seed(9, "t/math/1", 1),
    ]
    assert all(s.finish_reason != "error" for s in samples)
