"""The in-process backend of the generate stage: a small model run with Hugging Face
transformers (the design document's distilgpt2-style path), for demos and tests without a
server. Install it with ``pip install 'sfstream[transformers]'`` (transformers and torch).

The model is loaded once on entering; generation runs in a worker thread, one problem at a
time (a small model on one device gains little from overlapping calls), with all ``n``
samples of a problem in one ``generate`` call. The prompt is the model's chat template when
its tokenizer has one and the endpoint is ``chat`` (or ``chat_template`` is set), otherwise the
plain prompt of the completions endpoint. Seeds: ``torch.manual_seed`` with the same derived
per-request seed the server backend sends, so a rerun is reproducible on the same machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from sfstream.backends.base import (
    Backend,
    Deliver,
    GenerateConfig,
    SamplingParams,
    error_samples,
    make_sample,
    request_hash,
    request_seed,
    split_reasoning,
)
from sfstream.errors import ConfigError
from sfstream.progress import StageProgress
from sfstream.records import Problem, Sample
from sfstream.templates import Template

__all__ = ["TransformersBackend"]


@dataclass
class _Prepared:
    problem: Problem
    params: SamplingParams
    prompt: str
    model: str

    @property
    def request_hash(self) -> str:
        return request_hash(
            {
                "backend": "transformers",
                "model": self.model,
                "prompt": self.prompt,
                "temperature": self.params.temperature,
                "top_p": self.params.top_p,
                "stop": self.params.stop,
                "seed": self.params.seed,
                "extra": dict(self.params.extra),
            }
        )


def _load(name: str) -> tuple[Any, Any]:
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError:
        raise ConfigError(
            "the transformers backend needs transformers and torch: "
            "pip install 'sfstream[transformers]'"
        ) from None
    try:
        tokenizer: Any = AutoTokenizer.from_pretrained(name)
        model: Any = AutoModelForCausalLM.from_pretrained(name)
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot load model {name!r}: {e}") from None
    model.eval()
    if torch.cuda.is_available():
        model.to("cuda")
    return tokenizer, model


class TransformersBackend(Backend):
    """Generates with a transformers model in this process (use as an async context manager).

    Args:
        config: The stage's options (``model`` is the Hugging Face id or directory).
        templates: Prompt templates per domain.
        progress: Counters to update.
    """

    workers = 2  # one generating, one preparing the next problem

    def __init__(
        self, config: GenerateConfig, templates: dict[str, Template], progress: StageProgress
    ) -> None:
        assert config.model
        self.config = config
        self.name: str = config.model
        self.templates = templates
        self.progress = progress
        self._tokenizer: Any = None
        self._model: Any = None
        self._lock = anyio.Lock()

    async def __aenter__(self) -> TransformersBackend:
        self._tokenizer, self._model = await anyio.to_thread.run_sync(_load, self.name)
        return self

    async def aclose(self) -> None:
        self._tokenizer = self._model = None

    def prepare(self, problem: Problem, params: SamplingParams) -> _Prepared:
        """Renders ``problem``'s prompt."""
        template = self.templates[problem.domain]
        use_template = self.config.endpoint == "chat" or self.config.chat_template
        tokenizer = self._tokenizer if use_template else None
        if not getattr(tokenizer, "chat_template", None):
            tokenizer = None
        prompt = template.prompt(problem.problem, problem.starter_code, tokenizer)
        return _Prepared(problem, params, prompt, self.name)

    async def generate(self, prepared: _Prepared, indices: Sequence[int], deliver: Deliver) -> None:
        """Generates the samples ``indices`` in one call and delivers them."""
        self.progress.in_flight += 1
        try:
            async with self._lock:
                samples = await anyio.to_thread.run_sync(self._run, prepared, list(indices))
        except (RuntimeError, ValueError) as e:  # e.g. a prompt longer than the model's context
            samples = error_samples(
                prepared.problem, indices, f"{type(e).__name__}: {e}", self.name
            )
        finally:
            self.progress.in_flight -= 1
        await deliver(samples)

    def _run(self, prepared: _Prepared, indices: list[int]) -> list[Sample]:
        import torch

        params = prepared.params
        tokenizer, model = self._tokenizer, self._model
        inputs = tokenizer(prepared.prompt, return_tensors="pt", add_special_tokens=False)
        inputs = {k: v.to(model.device) for k, v in inputs.items()}
        prompt_len = int(inputs["input_ids"].shape[1])
        if params.seed is not None:
            torch.manual_seed(request_seed(params.seed, prepared.problem.id, indices[0]))
        sampling: dict[str, Any] = {"do_sample": params.temperature > 0}
        if params.temperature > 0:
            sampling["temperature"] = params.temperature
            if params.top_p is not None:
                sampling["top_p"] = params.top_p
            top_k = params.extra.get("top_k")
            sampling["top_k"] = top_k if isinstance(top_k, int) and top_k > 0 else 0
        penalty = params.extra.get("repetition_penalty")
        if isinstance(penalty, (int, float)):
            sampling["repetition_penalty"] = float(penalty)
        eos = tokenizer.eos_token_id
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
        with torch.no_grad():
            out = model.generate(
                **inputs,
                max_new_tokens=params.max_tokens,
                num_return_sequences=len(indices),
                pad_token_id=pad,
                eos_token_id=eos,
                **sampling,
            )
        samples = []
        for index, row in zip(indices, out[:, prompt_len:].tolist(), strict=True):
            stopped = eos is not None and eos in row
            tokens = row[: row.index(eos)] if stopped else row
            text = tokenizer.decode(tokens, skip_special_tokens=True)
            finish = "stop" if stopped else "length"
            for stop in params.stop or ():
                cut = text.find(stop)
                if cut >= 0:
                    text, finish = text[:cut], "stop"
            completion, reasoning = split_reasoning(text)
            self.progress.tokens += len(tokens)
            samples.append(
                make_sample(
                    prepared.problem,
                    sample_index=index,
                    model=self.name,
                    completion=completion,
                    reasoning=reasoning,
                    finish_reason=finish,
                    usage={
                        "prompt_tokens": prompt_len,
                        "completion_tokens": len(tokens),
                        "total_tokens": prompt_len + len(tokens),
                    },
                )
            )
        self.progress.prompt_tokens += prompt_len
        return samples
