"""The in-process backend of the generate stage: a small model run with Hugging Face
transformers (the design document's distilgpt2-style path), for demos and tests without a
server. Install it with ``pip install 'sfstream[transformers]'`` (transformers and torch).

The model is loaded once on entering. Samples are generated in batches of up to
``batch_size`` rows (``GenerateConfig.batch_size``, CLI ``--batch-size``): the rows of a batch
may come from several problems (the stage keeps ``batch_size`` problems in hand), prompts are
left-padded to a common length, and each row stops on its own: at the end-of-sequence token or
one of its stop strings (``finish_reason`` ``stop``) or at its own ``max_tokens`` (``length``);
the batch runs until its last row stops. Rows share a batch only when they share the settings
``generate`` applies to the whole batch (the repetition penalty); temperature, ``top_p`` and
``top_k`` are applied per row.

The prompt is the model's chat template when its tokenizer has one and the endpoint is ``chat``
(or ``chat_template`` is set), otherwise the plain prompt of the completions endpoint.

Seeds: with a run seed, every sample draws its tokens from a generator of its own, seeded with
the derived seed of its (problem id, sample index), so which samples happen to share a batch
does not decide what a sample draws. Batching still changes the arithmetic (a padded batch
computes the same logits with other matrix shapes), so samples are reproducible on the same
machine at the same batch size; at another batch size, a sample may differ once a last-bit
difference in its logits changes a draw. Without a seed, rows draw from torch's global
generator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.lowlevel

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


@dataclass
class _Job:
    """One ``generate`` call: the samples it waits for, filled in by the batches."""

    prepared: _Prepared
    pending: int
    samples: list[Sample]
    done: anyio.Event


@dataclass
class _Row:
    """One sample to generate: a row of a batch."""

    job: _Job
    index: int

    @property
    def params(self) -> SamplingParams:
        return self.job.prepared.params

    def batch_key(self) -> Any:
        """Rows share a batch only when the settings ``generate`` takes per batch agree."""
        penalty = self.params.extra.get("repetition_penalty")
        return float(penalty) if isinstance(penalty, (int, float)) else None


class _Sampler:
    """A logits processor that draws each row's next token with the row's own temperature,
    ``top_k``, ``top_p`` and generator, and leaves only that token possible (``generate`` then
    runs greedily, so it picks exactly the drawn token). Rows at temperature 0 keep their
    logits: greedy.

    The filtering runs on the whole batch at once; each row then draws one uniform number from
    its own generator and takes the token where its cumulative probability passes it.
    """

    def __init__(self, rows: list[_Row], device: Any) -> None:
        import torch

        temperatures, top_ks, top_ps = [], [], []
        self.generators: list[Any] = []
        for row in rows:
            params = row.params
            top_k = params.extra.get("top_k")
            temperatures.append(params.temperature if params.temperature > 0 else 1.0)
            top_ks.append(top_k if isinstance(top_k, int) and top_k > 0 else 2**62)
            top_ps.append(params.top_p if params.top_p is not None else 2.0)
            generator = None
            if params.seed is not None and params.temperature > 0:
                generator = torch.Generator(device=device)
                generator.manual_seed(
                    request_seed(params.seed, row.job.prepared.problem.id, row.index)
                )
            self.generators.append(generator)
        self.device = device
        self.sampled = torch.tensor([r.params.temperature > 0 for r in rows], device=device)
        self.temperatures = torch.tensor(temperatures, device=device).unsqueeze(1)
        self.top_ks = torch.tensor(top_ks, device=device).unsqueeze(1)
        self.top_ps = torch.tensor(top_ps, device=device).unsqueeze(1)
        self.any_sampled = bool(self.sampled.any())
        self.filtered = any(k < 2**62 for k in top_ks) or any(p < 1 for p in top_ps)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if not self.any_sampled:
            return scores
        logits = scores.float() / self.temperatures
        if self.filtered:
            ordered, order = torch.sort(logits, dim=-1, descending=True)
            ranks = torch.arange(ordered.shape[-1], device=ordered.device).unsqueeze(0)
            ordered = ordered.masked_fill(ranks >= self.top_ks, float("-inf"))
            probs = torch.softmax(ordered, dim=-1)
            before = probs.cumsum(dim=-1) - probs  # mass of the tokens ranked above each one
            ordered = ordered.masked_fill(before >= self.top_ps, float("-inf"))  # keeps the 1st
        else:  # no top_k or top_p: any order of the vocabulary will do
            ordered, order = logits, None
        cdf = torch.softmax(ordered, dim=-1).cumsum(dim=-1)
        draws = torch.cat(
            [torch.rand(1, generator=g, device=self.device) for g in self.generators]
        ).unsqueeze(1)
        picked = torch.searchsorted(cdf, draws * cdf[:, -1:]).clamp(max=cdf.shape[-1] - 1)
        tokens = picked if order is None else order.gather(1, picked)
        only = torch.full_like(scores, float("-inf")).scatter(1, tokens, 0.0)
        return torch.where(self.sampled.unsqueeze(1), only, scores)


class _Stopper:
    """A stopping criterion per row: the end-of-sequence token, a stop string, or the row's
    own ``max_tokens``. Records where and why each row stopped."""

    def __init__(self, rows: list[_Row], width: int, eos: int | None, tokenizer: Any) -> None:
        self.rows = rows
        self.width = width  # the padded prompt length
        self.eos = eos
        self.tokenizer = tokenizer
        #: Per row: (tokens kept, text cut at a stop string or None, finish reason).
        self.ends: list[tuple[int, str | None, str] | None] = [None] * len(rows)
        self.tokens: list[list[int]] = [[] for _ in rows]  # generated so far, while running

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        made = int(input_ids.shape[1]) - self.width
        last = input_ids[:, -1].tolist()
        for i, row in enumerate(self.rows):
            if self.ends[i] is None:
                self.tokens[i].append(last[i])
                self.ends[i] = self._check(row, self.tokens[i], made)
        return torch.tensor([e is not None for e in self.ends], device=input_ids.device)

    def _check(self, row: _Row, tokens: list[int], made: int) -> tuple[int, str | None, str] | None:
        if self.eos is not None and tokens[-1] == self.eos:
            return made - 1, None, "stop"
        if row.params.stop:
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            cuts = [c for c in (text.find(s) for s in row.params.stop) if c >= 0]
            if cuts:
                return made, text[: min(cuts)], "stop"
        if made >= row.params.max_tokens:
            return made, None, "length"
        return None


class TransformersBackend(Backend):
    """Generates with a transformers model in this process (use as an async context manager).

    ``generate`` queues a problem's samples and waits; :meth:`background` (which the stage runs
    beside the requests) takes queued samples in batches of up to ``config.batch_size`` and
    generates each batch in a worker thread.

    Args:
        config: The stage's options (``model`` is the Hugging Face id or directory).
        templates: Prompt templates per domain.
        progress: Counters to update.
    """

    def __init__(
        self, config: GenerateConfig, templates: dict[str, Template], progress: StageProgress
    ) -> None:
        assert config.model
        self.config = config
        self.name: str = config.model
        self.templates = templates
        self.progress = progress
        self.batch_size = config.batch_size
        # Enough problems in hand to fill a batch (plus one being prepared).
        self.workers = config.batch_size + 1
        self._tokenizer: Any = None
        self._model: Any = None
        self._queue: list[_Row] = []
        self._wake = anyio.Event()

    async def __aenter__(self) -> TransformersBackend:
        self._tokenizer, self._model = await anyio.to_thread.run_sync(_load, self.name)
        self._tokenizer.padding_side = "left"
        if self._tokenizer.pad_token_id is None:
            self._tokenizer.pad_token = self._tokenizer.eos_token
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
        """Queues the samples ``indices`` and delivers them once all are generated."""
        job = _Job(prepared, len(indices), [], anyio.Event())
        self._queue.extend(_Row(job, i) for i in indices)
        self.progress.in_flight += 1
        self._wake.set()
        try:
            await job.done.wait()
        finally:
            self.progress.in_flight -= 1
        job.samples.sort(key=lambda s: s.sample_index)
        await deliver(job.samples)

    async def background(self) -> None:
        """Generates queued samples in batches until cancelled."""
        while True:
            if not self._queue:
                self._wake = anyio.Event()
                await self._wake.wait()
            # Let the other problems in hand queue their samples before a batch is cut.
            for _ in range(self.workers * 4):
                if len(self._queue) >= self.batch_size:
                    break
                await anyio.lowlevel.checkpoint()
            # The oldest queued sample, and the ones whose prompts are closest to it in length
            # (less padding to compute).
            first = self._queue[0]
            key, length = first.batch_key(), len(first.job.prepared.prompt)
            batch = sorted(
                (r for r in self._queue if r.batch_key() == key),
                key=lambda r: abs(len(r.job.prepared.prompt) - length),
            )[: self.batch_size]
            taken = {id(r) for r in batch}
            self._queue = [r for r in self._queue if id(r) not in taken]
            try:
                samples = await anyio.to_thread.run_sync(self._run, batch)
            except (RuntimeError, ValueError):  # e.g. a prompt longer than the context
                # One sample alone at a time, so one bad prompt fails only its own samples.
                samples = [await self._run_alone(r) for r in batch]
            for row, sample in zip(batch, samples, strict=True):
                row.job.samples.append(sample)
                row.job.pending -= 1
                if row.job.pending == 0:
                    row.job.done.set()

    async def _run_alone(self, row: _Row) -> Sample:
        try:
            [sample] = await anyio.to_thread.run_sync(self._run, [row])
        except (RuntimeError, ValueError) as e:
            problem = row.job.prepared.problem
            [sample] = error_samples(problem, [row.index], f"{type(e).__name__}: {e}", self.name)
        return sample

    def _run(self, rows: list[_Row]) -> list[Sample]:
        import torch

        tokenizer, model = self._tokenizer, self._model
        inputs = tokenizer(
            [r.job.prepared.prompt for r in rows],
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
        )
        prompt_lens = inputs["attention_mask"].sum(dim=1).tolist()
        inputs = {k: v.to(model.device) for k, v in inputs.items()}
        width = int(inputs["input_ids"].shape[1])
        eos = tokenizer.eos_token_id
        stopper = _Stopper(rows, width, eos, tokenizer)
        extra: dict[str, Any] = {}
        penalty = rows[0].batch_key()
        if penalty is not None:
            extra["repetition_penalty"] = penalty
        with torch.no_grad():
            out = model.generate(
                **inputs,
                max_new_tokens=max(r.params.max_tokens for r in rows),
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=eos,
                logits_processor=[_Sampler(rows, model.device)],
                stopping_criteria=[stopper],
                **extra,
            )
        generated = out[:, width:].tolist()
        samples = []
        for i, row in enumerate(rows):
            end = stopper.ends[i]
            if end is None:  # generate stopped first (e.g. at the model's context length)
                end = (len(generated[i]), None, "length")
            kept, cut_text, finish = end
            tokens = generated[i][:kept]
            text = (
                cut_text
                if cut_text is not None
                else tokenizer.decode(tokens, skip_special_tokens=True)
            )
            completion, reasoning = split_reasoning(text)
            prompt_len = int(prompt_lens[i])
            self.progress.tokens += len(tokens)
            self.progress.prompt_tokens += prompt_len
            samples.append(
                make_sample(
                    row.job.prepared.problem,
                    sample_index=row.index,
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
        return samples
