"""What the OpenAI backend puts in its requests and takes from the answers, checked exactly
against InstantFakeServer (which records every body): length-limit fields, per-problem
parameters, reasoning channels, progress and the end-of-run summary."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest
from instant_fake_server import InstantFakeServer
from sfstream.format import FormatConfig, format_sample
from sfstream.generate import GenerateConfig, request_seed
from sfstream.progress import StageProgress
from sfstream.records import Problem, Sample, Verdict
from sfstream.templates import DEFAULT_TEMPLATES
from stage_helpers import run_generate


def problem(ident: str = "r/1", **extra: Any) -> Problem:
    return Problem(id=ident, domain="code", source="t", problem="Add two numbers.", extra=extra)


@pytest.mark.anyio
async def test_length_limit_fields() -> None:
    with InstantFakeServer(keep_bodies=True) as server:
        base = {"base_url": server.base_url, "model": "m"}
        await run_generate(GenerateConfig(**base), [problem()])
        await run_generate(
            GenerateConfig(**base, max_tokens_field="max_completion_tokens"), [problem()]
        )
        await run_generate(
            GenerateConfig(**base, extra_body={"max_completion_tokens": 7}), [problem()]
        )
        default, newer, extra = server.bodies
    assert default["max_tokens"] == 1024 and "max_completion_tokens" not in default
    assert newer["max_completion_tokens"] == 1024 and "max_tokens" not in newer
    assert extra["max_completion_tokens"] == 7 and "max_tokens" not in extra
    assert default["temperature"] == 0.8  # the code domain's default


@pytest.mark.anyio
async def test_per_problem_parameters() -> None:
    own = problem(
        "r/own",
        generation={
            "n": 2,
            "seed": 11,
            "stop": "###",
            "temperature": 0.2,
            "extra_body": {"top_k": 5},
        },
    )
    with InstantFakeServer(keep_bodies=True) as server:
        config = GenerateConfig(
            base_url=server.base_url, model="m", seed=1, extra_body={"min_p": 0.1, "top_k": 50}
        )
        samples = await run_generate(config, [own, problem("r/plain")])
        bodies = {b["n"]: b for b in server.bodies}
    assert len(samples) == 3
    mine, plain = bodies[2], bodies[1]
    assert mine["seed"] == request_seed(11, "r/own", 0) and mine["stop"] == ["###"]
    assert mine["temperature"] == 0.2 and mine["top_k"] == 5 and mine["min_p"] == 0.1
    assert plain["seed"] == request_seed(1, "r/plain", 0) and "stop" not in plain
    assert plain["top_k"] == 50


@pytest.mark.anyio
async def test_bad_problem_parameters_are_error_samples() -> None:
    with InstantFakeServer() as server:
        samples = await run_generate(
            GenerateConfig(base_url=server.base_url, model="m"),
            [problem(generation={"extra_body": {"max_tokens": 0}})],
        )
    [bad] = samples
    assert bad.finish_reason == "error" and "max_tokens" in bad.extra["error"]


@pytest.mark.anyio
async def test_reasoning_channels() -> None:
    def respond(body: dict[str, Any], index: int) -> tuple[Any, ...]:
        if index == 0:
            return "The answer.", "stop", "server-side thoughts"
        if index == 1:
            return "<think>my own thoughts</think>\n\nAnswer two.", "stop"
        return "<think>cut off in the middle", "length"

    with InstantFakeServer(respond) as server:
        samples = await run_generate(
            GenerateConfig(base_url=server.base_url, model="m", n=3), [problem()]
        )
    by_index = {s.sample_index: s for s in samples}
    assert (by_index[0].completion, by_index[0].reasoning) == (
        "The answer.",
        "server-side thoughts",
    )
    assert (by_index[1].completion, by_index[1].reasoning) == ("Answer two.", "my own thoughts")
    assert (by_index[2].completion, by_index[2].reasoning) == ("", "cut off in the middle")
    assert by_index[2].finish_reason == "length"  # truncated: kept and marked, not retried


@pytest.mark.anyio
async def test_progress_and_summary(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sfstream")
    with InstantFakeServer() as server:
        progress = StageProgress("generate", total=4)
        await run_generate(
            GenerateConfig(base_url=server.base_url, model="m", n=2),
            [problem(f"r/{i}") for i in range(4)],
            progress,
        )
    assert (progress.done, progress.samples, progress.in_flight) == (4, 8, 0)
    assert progress.tokens == 16 and progress.prompt_tokens == 40
    assert "generate: 8 sample(s) of 4 problem(s)" in caplog.text
    assert "16 completion + 40 prompt tokens" in caplog.text
    line = StageProgress(
        "generate", done=3, total=10, in_flight=5, tokens=100, reused=2, retries=1, limit=32
    ).render()
    assert "generate 3/10" in line and "5 in flight (limit 32)" in line
    assert "2 reused" in line and "1 retries" in line and "ETA" in line and "tok/s" in line
    assert StageProgress("generate", done=7).render().startswith("generate 7")


@pytest.mark.anyio
async def test_prompts_and_training_rows_come_from_the_same_template() -> None:
    # One place builds a prompt: the chat request's turns, the completions endpoint's text and
    # the format stage's training turns all come from Template.messages.
    starter = "def add(a, b):\n    pass\n"
    p = Problem(
        id="t/1", domain="code", source="t", problem="Add two numbers.", starter_code=starter
    )
    template = DEFAULT_TEMPLATES["code"]
    with InstantFakeServer(keep_bodies=True) as server:
        base = {"base_url": server.base_url, "model": "m"}
        await run_generate(GenerateConfig(**base), [p])
        await run_generate(GenerateConfig(**base, endpoint="completions"), [p])
        chat, completions = server.bodies
    turns = template.messages(p.problem, starter)
    assert chat["messages"] == turns
    assert turns[1]["content"].endswith(template.answer_format)
    assert "```python\ndef add(a, b):\n    pass\n```" in turns[1]["content"]
    assert completions["prompt"] == f"{template.system}\n\n{turns[1]['content']}\n\n"

    sample = Sample(
        **{f.name: getattr(p, f.name) for f in dataclasses.fields(Problem)},
        sample_index=0,
        model="m",
        completion="done",
        finish_reason="stop",
        verdict=Verdict(status="correct", correct=True),
    )
    example = format_sample(sample, FormatConfig(style="seed"))
    assert example is not None
    seed_turns = template.messages(p.problem, starter, generation=False)
    assert example.messages[:2] == seed_turns
    assert template.answer_format not in seed_turns[1]["content"]
    assert example.text == template.prompt(p.problem, starter, generation=False) + "done\n"
