"""The model's own chat template for the completions endpoint (rendered with transformers'
tokenizer, against the real vLLM server), and the in-process transformers backend on the tiny
random model.

The transformers backend needs torch, which is far too large for the test environment; the
vLLM environment has it (and transformers), so that test runs ``sfstream generate --backend
transformers`` with the vLLM environment's python, the test environment's packages added after
its own (for orjson and sfstream itself).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import orjson
import pytest
import vllm_server as vllm_plugin
from fault_proxy import FaultInjectingProxy
from sfstream.errors import ConfigError
from sfstream.generate import GenerateConfig, generate
from sfstream.records import Problem, Sample
from stage_helpers import aiter_of

ROOT = Path(__file__).resolve().parents[1]


def problem(ident: str = "m/1") -> Problem:
    return Problem(id=ident, domain="math", source="t", problem="What is 2 + 3?", answer="5")


async def collect(config: GenerateConfig, items: list[Problem]) -> list[Sample]:
    return [s async for s in generate(aiter_of(items), config)]


def test_chat_template_is_for_completions() -> None:
    with pytest.raises(ConfigError, match="completions endpoint"):
        GenerateConfig(base_url="http://a/v1", model="m", chat_template=True)


@pytest.mark.anyio
async def test_missing_tokenizer_is_a_config_error(tmp_path: Path) -> None:
    config = GenerateConfig(
        base_url="http://127.0.0.1:9/v1",
        model="m",
        endpoint="completions",
        chat_template=True,
        tokenizer=str(tmp_path / "nothing-here"),
    )
    with pytest.raises(ConfigError, match="cannot load the tokenizer"):
        await collect(config, [problem()])


@pytest.mark.vllm
@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.timeout(120)
async def test_completions_with_the_models_chat_template(vllm_server: Any) -> None:
    with FaultInjectingProxy(vllm_server.root, {}) as proxy:
        config = GenerateConfig(
            base_url=proxy.base_url,
            model=vllm_server.model,
            endpoint="completions",
            chat_template=True,
            tokenizer=str(vllm_server.model_dir),
            n=2,
            max_tokens=6,
            seed=2,
        )
        samples = await collect(config, [problem()])
        [request] = proxy.seen
    prompt = request.body["prompt"]
    assert request.path == "/v1/completions"
    assert prompt.startswith("<s><|system|>\nYou are a helpful AI math assistant.")
    assert "<|user|>\nProblem:\nWhat is 2 + 3?" in prompt
    assert prompt.endswith("</s>\n<|assistant|>\n")
    assert sorted(s.sample_index for s in samples) == [0, 1]
    assert all(s.finish_reason in ("stop", "length") and s.usage for s in samples)


@pytest.mark.vllm
@pytest.mark.timeout(300)
def test_transformers_backend_on_the_tiny_model(tmp_path: Path) -> None:
    python = vllm_plugin._vllm_python()
    model_dir = vllm_plugin._tiny_model(python)
    source = tmp_path / "problems.jsonl"
    items = [problem("m/1"), problem("m/2")]
    source.write_bytes(b"".join(orjson.dumps(p.to_dict()) + b"\n" for p in items))
    ours = sysconfig.get_paths()["purelib"]
    # The vLLM environment's packages first (torch, transformers), then ours.
    launcher = (
        "import runpy, site, sys; site.addsitedir(sys.argv.pop(1)); "
        "sys.argv[0] = 'sfstream'; runpy.run_module('sfstream', run_name='__main__')"
    )

    def run(out: Path) -> list[dict[str, Any]]:
        proc = subprocess.run(
            [
                str(python),
                "-c",
                launcher,
                ours,
                "generate",
                "--backend",
                "transformers",
                "--model",
                str(model_dir),
                "-n",
                "2",
                "--max-tokens",
                "6",
                "--seed",
                "5",
                "-i",
                str(source),
                "-o",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=240,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
            check=False,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return [orjson.loads(line) for line in out.read_bytes().splitlines()]

    first = run(tmp_path / "a.jsonl")
    assert sorted((r["id"], r["sample_index"]) for r in first) == [
        ("m/1", 0),
        ("m/1", 1),
        ("m/2", 0),
        ("m/2", 1),
    ]
    for row in first:
        assert row["model"] == str(model_dir)
        assert row["finish_reason"] in ("stop", "length")
        usage = row["usage"]
        assert usage["prompt_tokens"] > 10 and 0 <= usage["completion_tokens"] <= 6
        assert row["problem"] == "What is 2 + 3?"
    # The same run seed gives the same samples.
    again = run(tmp_path / "b.jsonl")
    assert {(r["id"], r["sample_index"]): r["completion"] for r in first} == {
        (r["id"], r["sample_index"]): r["completion"] for r in again
    }
    assert sys.executable  # the test environment itself never imported torch


# -- the batched transformers backend ----------------------------------------------------------


def _generate_in_vllm_env(tmp_path: Path, items: list[Problem], *args: str) -> list[dict[str, Any]]:
    """Runs ``sfstream generate --backend transformers`` on the tiny model with the vLLM
    environment's python (see the module docs) and returns the samples written."""
    python = vllm_plugin._vllm_python()
    model_dir = vllm_plugin._tiny_model(python)
    source = tmp_path / "problems.jsonl"
    source.write_bytes(b"".join(orjson.dumps(p.to_dict()) + b"\n" for p in items))
    out = tmp_path / f"samples-{len(list(tmp_path.iterdir()))}.jsonl"
    launcher = (
        "import runpy, site, sys; site.addsitedir(sys.argv.pop(1)); "
        "sys.argv[0] = 'sfstream'; runpy.run_module('sfstream', run_name='__main__')"
    )
    proc = subprocess.run(
        [
            str(python),
            "-c",
            launcher,
            sysconfig.get_paths()["purelib"],
            "generate",
            "-q",
            "--backend",
            "transformers",
            "--model",
            str(model_dir),
            "-i",
            str(source),
            "-o",
            str(out),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [orjson.loads(line) for line in out.read_bytes().splitlines()]


def _varied_problems(count: int) -> list[Problem]:
    """Prompts of different lengths, so a batch really needs its left padding."""
    return [
        Problem(
            id=f"b/{i}",
            domain="math",
            source="t",
            problem=" ".join([f"What is {i} + {i * 7}?"] * (1 + i % 4)),
            answer=str(i * 8),
        )
        for i in range(count)
    ]


def _check_well_formed(rows: list[dict[str, Any]], max_tokens: int) -> None:
    for row in rows:
        assert row["finish_reason"] in ("stop", "length"), row
        assert isinstance(row["completion"], str)
        usage = row["usage"]
        assert usage["prompt_tokens"] > 10
        assert 0 <= usage["completion_tokens"] <= max_tokens
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        # Without stop strings, only the end-of-sequence token stops a sample early.
        assert (row["finish_reason"] == "length") == (usage["completion_tokens"] == max_tokens)


@pytest.mark.vllm
@pytest.mark.timeout(600)
def test_transformers_batch_sizes_give_the_same_samples(tmp_path: Path) -> None:
    items = _varied_problems(7)
    common = ["-n", "3", "--max-tokens", "40", "--seed", "11", "--temperature", "0.9"]
    wanted = sorted((p.id, i) for p in items for i in range(3))
    runs = {}
    for size in (1, 3, 8):
        rows = _generate_in_vllm_env(tmp_path, items, *common, "--batch-size", str(size))
        assert sorted((r["id"], r["sample_index"]) for r in rows) == wanted
        _check_well_formed(rows, 40)
        prompts = {p.id: p.problem for p in items}
        assert all(r["problem"] == prompts[r["id"]] for r in rows)
        runs[size] = {(r["id"], r["sample_index"]): r for r in rows}
    # Each prompt is tokenized alone, whatever its batch: the same prompt token counts.
    for key in wanted:
        counts = {runs[size][key]["usage"]["prompt_tokens"] for size in runs}
        assert len(counts) == 1, (key, counts)
    # Each sample draws from its own seeded generator whatever its batch: the completions
    # agree across batch sizes, but for a rare last-bit difference of a padded batch's logits.
    for size in (3, 8):
        same = sum(runs[size][k]["completion"] == runs[1][k]["completion"] for k in wanted)
        assert same >= 0.8 * len(wanted), (size, same, len(wanted))
    # Both ways of finishing occur in this run (fixed seed and model), each in a batch with
    # samples that went on: a sample that hit the end-of-sequence token stopped on its own.
    reasons = {r["finish_reason"] for r in runs[8].values()}
    assert reasons == {"stop", "length"}, reasons


@pytest.mark.vllm
@pytest.mark.timeout(300)
def test_transformers_stop_strings_end_one_sample(tmp_path: Path) -> None:
    items = _varied_problems(4)
    plain = _generate_in_vllm_env(
        tmp_path, items, "--max-tokens", "40", "--seed", "4", "--temperature", "0"
    )
    # Greedy: a stop string taken from one sample's own text must end exactly that sample
    # there, while the others of the batch run on as they did.
    target = max(plain, key=lambda r: len(r["completion"]))
    stop = target["completion"][len(target["completion"]) // 2 :][:3]
    assert stop.strip(), target
    stopped = _generate_in_vllm_env(
        tmp_path,
        items,
        "--max-tokens",
        "40",
        "--seed",
        "4",
        "--temperature",
        "0",
        "--stop",
        stop,
        "--batch-size",
        "4",
    )
    by_id = {r["id"]: r for r in stopped}
    for before in plain:
        after = by_id[before["id"]]
        cut = before["completion"].find(stop)
        if cut < 0:
            assert after["completion"] == before["completion"]
            assert after["finish_reason"] == before["finish_reason"]
        else:
            assert after["completion"] == before["completion"][:cut]
            assert after["finish_reason"] == "stop"
            assert after["usage"]["completion_tokens"] < before["usage"]["completion_tokens"]
    assert by_id[target["id"]]["finish_reason"] == "stop"


@pytest.mark.vllm
@pytest.mark.timeout(300)
def test_transformers_batch_larger_than_the_pending_samples(tmp_path: Path) -> None:
    items = _varied_problems(2)
    rows = _generate_in_vllm_env(
        tmp_path, items, "-n", "2", "--max-tokens", "16", "--seed", "1", "--batch-size", "32"
    )
    assert sorted((r["id"], r["sample_index"]) for r in rows) == [
        ("b/0", 0),
        ("b/0", 1),
        ("b/1", 0),
        ("b/1", 1),
    ]
    _check_well_formed(rows, 16)
