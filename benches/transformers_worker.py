"""The worker of ``bench_transformers.py``: runs in the vLLM environment's python (it has torch
and transformers), loads the tiny model once, and generates on request.

Usage: ``python transformers_worker.py SITE_DIR MODEL_DIR`` (SITE_DIR: the benchmark
environment's site-packages, added after the vLLM environment's own for sfstream and orjson).
Each line read is a JSON object ``{"batch_size": B, "problems": P, "n": N, "max_tokens": T}``;
each line written answers one: the seconds the generate stage took and, per sample, its id,
index, finish reason, token counts and whether its completion is a string.
"""

from __future__ import annotations

import site
import sys
import time
from typing import Any


def main() -> None:
    site.addsitedir(sys.argv[1])
    model = sys.argv[2]
    import anyio
    import orjson
    import torch

    # One thread: the machine's cores are shared, and both sides get the same.
    torch.set_num_threads(1)
    from sfstream.generate import GenerateConfig, generate
    from sfstream.records import Problem

    async def run(request: dict[str, Any]) -> dict[str, Any]:
        items = [
            Problem(
                id=f"t/{i}",
                domain="math",
                source="bench",
                problem=" ".join([f"Compute {i} * {i + 3} and explain each step."] * (1 + i % 3)),
                answer=str(i * (i + 3)),
            )
            for i in range(request["problems"])
        ]

        async def feed() -> Any:
            for item in items:
                yield item

        config = GenerateConfig(
            backend="transformers",
            model=model,
            n=request["n"],
            max_tokens=request["max_tokens"],
            temperature=0.8,
            seed=7,
            batch_size=request["batch_size"],
        )
        started = time.perf_counter()
        samples = [s async for s in generate(feed(), config)]
        seconds = time.perf_counter() - started
        return {
            "seconds": seconds,
            "samples": [
                [
                    s.id,
                    s.sample_index,
                    s.finish_reason,
                    (s.usage or {}).get("completion_tokens"),
                    (s.usage or {}).get("prompt_tokens"),
                    isinstance(s.completion, str),
                ]
                for s in samples
            ],
        }

    for line in sys.stdin:
        answer = anyio.run(run, orjson.loads(line))
        sys.stdout.write(orjson.dumps(answer).decode() + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
