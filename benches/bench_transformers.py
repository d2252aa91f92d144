"""Benchmark of the transformers backend (``make bench``): batched generation against the
one-at-a-time loop, on the tiny random Llama the tests build, in the same run.

The backend needs torch, which only the vLLM environment has, so a worker process runs there
(``transformers_worker.py``, the model loaded once) and generates on request; the benchmark
alternates the reference (batch size 1: one sample at a time, the loop the backend ran before
batching) and batch size 8 on the same problems with the same settings, and reports the median
seconds of each and their ratio (and the ratio of the fastest rounds). torch runs on one
thread in the worker, for both sides alike. What is asserted is correctness (every
(id, sample_index) once, well-formed samples in both), never the ratio.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

import orjson
import pytest
import vllm_server as vllm_plugin

WORKER = Path(__file__).resolve().parent / "transformers_worker.py"
# n = 1: one problem at a time is then one sample at a time, as the loop before batching ran.
PROBLEMS, N, MAX_TOKENS, BATCH = 48, 1, 128, 8


class Worker:
    """The worker process in the vLLM environment, one request at a time."""

    def __init__(self) -> None:
        python = vllm_plugin._vllm_python()
        model_dir = vllm_plugin._tiny_model(python)
        self.proc = subprocess.Popen(
            [str(python), str(WORKER), sysconfig.get_paths()["purelib"], str(model_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
        )

    def run(self, batch_size: int) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        request = {"batch_size": batch_size, "problems": PROBLEMS, "n": N, "max_tokens": MAX_TOKENS}
        self.proc.stdin.write(orjson.dumps(request).decode() + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"the worker exited ({self.proc.poll()})"
        answer: dict[str, Any] = orjson.loads(line)
        return answer

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def check(answer: dict[str, Any]) -> int:
    """Every (id, sample_index) once and each sample well-formed; returns completion tokens."""
    rows = answer["samples"]
    assert sorted((r[0], r[1]) for r in rows) == sorted(
        (f"t/{i}", k) for i in range(PROBLEMS) for k in range(N)
    )
    tokens = 0
    for _, _, finish, completion_tokens, prompt_tokens, is_text in rows:
        assert finish in ("stop", "length") and is_text
        assert prompt_tokens > 10 and 0 <= completion_tokens <= MAX_TOKENS
        assert (finish == "length") == (completion_tokens == MAX_TOKENS)
        tokens += completion_tokens
    return tokens


@pytest.mark.vllm
@pytest.mark.timeout(1800)
def test_transformers_batch_8_vs_one_at_a_time(benchmark: Any) -> None:
    rounds = 5
    worker = Worker()
    one: list[float] = []
    batched: list[float] = []
    tokens: dict[str, list[int]] = {"one": [], "batched": []}
    try:

        def one_round() -> None:
            answer = worker.run(1)
            tokens["one"].append(check(answer))
            one.append(answer["seconds"])

        def batched_round() -> None:
            answer = worker.run(BATCH)
            tokens["batched"].append(check(answer))
            batched.append(answer["seconds"])

        # Warm both (model weights in cache, first-call set-up), then alternate.
        one_round()
        batched_round()
        one.clear()
        batched.clear()
        benchmark.pedantic(batched_round, setup=one_round, rounds=rounds, iterations=1)
    finally:
        worker.close()

    one_median, batched_median = statistics.median(one), statistics.median(batched)
    info = {
        "problems": PROBLEMS,
        "n": N,
        "max_tokens": MAX_TOKENS,
        "batch_size": BATCH,
        "one_at_a_time_seconds": [round(x, 3) for x in one],
        "batched_seconds": [round(x, 3) for x in batched],
        "completion_tokens_one_at_a_time": tokens["one"],
        "completion_tokens_batched": tokens["batched"],
        "speedup_batched_over_one_at_a_time": round(one_median / batched_median, 2),
        "speedup_of_fastest_rounds": round(min(one) / min(batched), 2),
    }
    benchmark.extra_info.update(info)
    print("\nbenchmark (transformers batching):", orjson.dumps(info).decode())
