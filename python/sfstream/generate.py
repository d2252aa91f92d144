"""The generate stage: problems in, model completions (samples) out.

Three backends:

* ``openai`` (default) sends each problem to an OpenAI-compatible server such as vLLM, as one
  ``/chat/completions`` (or ``/completions``) request with a native ``n``, to one server or to
  several balanced by load, with a fixed in-flight limit or one that follows the server's
  queue (``concurrency="auto"``, from vLLM's ``/metrics``). Transient failures
  (429, 5xx, timeouts, dropped connections) are retried with exponential backoff and full
  jitter, honouring ``Retry-After``. A request the server refuses for good (a 400 such as
  "prompt too long") becomes ``n`` samples with ``finish_reason="error"`` and the server's
  message in ``extra["error"]``: nothing is dropped and the run goes on. Only a fault that
  would fail every request stops the run with :class:`~sfstream.errors.GenerationError`: a
  server that cannot be connected to after all retries, or a 401/403/404 (wrong key, model or
  URL).
* ``transformers`` runs a small model in this process with Hugging Face transformers (the
  ``sfstream[transformers]`` extra), for demos and tests without a server.
* ``replay`` answers from recorded completions (by default the ones bundled with the package),
  so the whole pipeline runs offline and reproducibly.

With a ``journal`` the run is resumable: every response is appended to the journal as it
arrives, before its samples go downstream, and a rerun of the same command emits the
journaled samples again (the earlier output may have been lost with the crash; they come out
as soon as their problem is read, ahead of anything still to be generated) and asks the server
only for the rest. See :mod:`sfstream._journal` for what is reused when parameters change.

Example:
    >>> import anyio, sfstream
    >>> async def main():
    ...     async for sample in sfstream.generate(problems, base_url="http://127.0.0.1:8000/v1",
    ...                                           model="Qwen/Qwen2.5-7B-Instruct", n=4):
    ...         print(sample.id, sample.sample_index, sample.finish_reason)
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import anyio
import orjson

from sfstream._config import configure
from sfstream._endpoints import split_base_urls
from sfstream.errors import ConfigError, RecordError
from sfstream.pipeline import StageFn, concurrent_stage, iterate_stage
from sfstream.progress import StageProgress
from sfstream.records import Problem, Sample
from sfstream.templates import Template, load_templates

__all__ = [
    "DOMAIN_DEFAULTS",
    "GenerateConfig",
    "SamplingParams",
    "generate",
    "generate_stage",
    "split_reasoning",
]

#: Sampling defaults of the design document per domain: (temperature, max_tokens).
DOMAIN_DEFAULTS: dict[str, tuple[float, int]] = {"math": (0.7, 512), "code": (0.8, 1024)}

#: Keys a problem may set in ``extra["generation"]`` to override the run's settings.
OVERRIDE_KEYS = frozenset({"temperature", "max_tokens", "top_p", "n", "seed", "stop", "extra_body"})

#: Request fields that set the completion's length limit.
MAX_TOKENS_FIELDS = ("max_tokens", "max_completion_tokens")

log = logging.getLogger("sfstream")

_SEED_RANGE = 2**31 - 2**16  # leaves room for servers that derive child seeds as seed + i


def _env(name: str) -> Callable[[], str | None]:
    return lambda: os.environ.get(name) or None


@dataclass(frozen=True, kw_only=True)
class GenerateConfig:
    """Options of the generate stage.

    Attributes:
        backend: ``"openai"`` for an OpenAI-compatible server, ``"transformers"`` for a small
            model run in this process, ``"replay"`` for recorded completions.
        base_url: Server URL including the API prefix, like ``http://127.0.0.1:8000/v1``
            (default: ``$SFSTREAM_BASE_URL``). Several servers: a list, or URLs separated by
            commas; each request goes to the least loaded one.
        model: Model name sent to the server (default: ``$SFSTREAM_MODEL``); for the
            ``transformers`` backend a Hugging Face model id or a local directory.
        api_key: Sent as a bearer token when set (default: ``$OPENAI_API_KEY``).
        endpoint: ``"chat"`` (system + user messages) or ``"completions"`` (one plain prompt).
        chat_template: With ``endpoint="completions"``, render the messages with the model's
            chat template (through transformers' tokenizer) instead of a plain prompt.
        tokenizer: Where to load that tokenizer from (default: ``model``); a local directory
            or a Hugging Face id.
        n: Samples per problem. None means the backend's default: 1 for ``openai``, every
            recorded sample for ``replay`` (where an explicit ``n`` keeps sample indices < n).
        temperature: Sampling temperature; None uses the domain default (math 0.7, code 0.8).
        max_tokens: Completion length limit; None uses the domain default (math 512,
            code 1024).
        max_tokens_field: The request field that carries it: ``max_tokens`` (understood by
            every server) or ``max_completion_tokens`` (OpenAI's newer name).
        top_p: Nucleus sampling, sent only when set.
        seed: Run seed. Each request gets a seed derived from it, the problem id and the
            first sample index, so a rerun asks for exactly the same samples.
        stop: Stop strings, sent only when set.
        extra_body: Extra request fields passed through as they are (``top_k``, ``min_p``,
            ``repetition_penalty``, ``chat_template_kwargs``...); they win over sfstream's own.
        concurrency: Requests in flight at once over all servers (the HTTP connection pool is
            sized to match, so there is no hidden cap), or ``"auto"``: follow each vLLM
            server's ``/metrics`` and keep its waiting queue just full.
        max_concurrency: With ``"auto"``, the largest limit per server.
        metrics_interval: With ``"auto"``, seconds between readings of ``/metrics``.
        timeout: Seconds one request may take (long: reasoning traces take minutes).
        max_retries: Retries of one request after a transient failure.
        journal: Append-only file that makes the run resumable (``openai`` and
            ``transformers`` backends; see the module docs).
        replay_path: Recorded completions for ``replay`` (default: the bundled file).
        templates: JSON file overriding the prompt templates (see ``templates.load_templates``).

    A problem can override ``temperature``, ``max_tokens``, ``top_p``, ``n``, ``seed``,
    ``stop`` and ``extra_body`` (merged over the run's) for itself with an object in its
    ``generation`` field (kept in ``Problem.extra``).
    """

    backend: Literal["openai", "transformers", "replay"] = "openai"
    base_url: str | list[str] | tuple[str, ...] | None = field(
        default_factory=_env("SFSTREAM_BASE_URL")
    )
    model: str | None = field(default_factory=_env("SFSTREAM_MODEL"))
    api_key: str | None = field(default_factory=_env("OPENAI_API_KEY"))
    endpoint: Literal["chat", "completions"] = "chat"
    chat_template: bool = False
    tokenizer: str | None = None
    n: int | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    top_p: float | None = None
    seed: int | None = None
    stop: list[str] | None = None
    extra_body: dict[str, Any] = field(default_factory=dict)
    concurrency: int | Literal["auto"] = 64
    max_concurrency: int = 512
    metrics_interval: float = 1.0
    timeout: float = 3600.0
    max_retries: int = 8
    journal: str | None = None
    replay_path: str | None = None
    templates: str | None = None

    def __post_init__(self) -> None:
        if self.backend not in ("openai", "transformers", "replay"):
            raise ConfigError(
                f"unknown generate backend {self.backend!r} (use openai, transformers or replay)"
            )
        if self.endpoint not in ("chat", "completions"):
            raise ConfigError(f"unknown endpoint {self.endpoint!r} (use chat or completions)")
        if self.max_tokens_field not in MAX_TOKENS_FIELDS:
            raise ConfigError(
                f"max_tokens_field must be max_tokens or max_completion_tokens, "
                f"got {self.max_tokens_field!r}"
            )
        if self.chat_template and self.endpoint != "completions" and self.backend == "openai":
            raise ConfigError(
                "chat_template renders prompts for the completions endpoint "
                "(the chat endpoint applies the server's own template)"
            )
        for name, value, low in (
            ("n", self.n, 1),
            ("max_tokens", self.max_tokens, 1),
            ("concurrency", None if self.concurrency == "auto" else self.concurrency, 1),
            ("max_concurrency", self.max_concurrency, 1),
            ("max_retries", self.max_retries, 0),
        ):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < low
            ):
                raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.temperature is not None and not self.temperature >= 0:
            raise ConfigError(f"temperature must be >= 0, got {self.temperature!r}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if not self.timeout > 0:
            raise ConfigError(f"timeout must be positive, got {self.timeout!r}")
        if not self.metrics_interval > 0:
            raise ConfigError(f"metrics_interval must be positive, got {self.metrics_interval!r}")
        if not isinstance(self.extra_body, dict):
            raise ConfigError("extra_body must be an object")
        if self.stop is not None and (
            not isinstance(self.stop, list) or not all(isinstance(s, str) for s in self.stop)
        ):
            raise ConfigError("stop must be a list of strings")

    @property
    def base_urls(self) -> tuple[str, ...]:
        """The server URLs, however ``base_url`` gave them."""
        return split_base_urls(self.base_url)


@dataclass(frozen=True)
class SamplingParams:
    """The settings that apply to one problem, after domain defaults and its own overrides.

    Attributes:
        n: Samples wanted (None: every recorded one, replay only).
        temperature: Sampling temperature.
        max_tokens: Completion length limit.
        top_p: Nucleus sampling, or None to leave it to the server.
        seed: Run seed, or None.
        stop: Stop strings, or None.
        extra: Extra request fields (the run's ``extra_body`` with the problem's over it).
        max_tokens_field: The request field that carries ``max_tokens``.
    """

    n: int | None
    temperature: float
    max_tokens: int
    top_p: float | None
    seed: int | None = None
    stop: tuple[str, ...] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    max_tokens_field: str = "max_tokens"

    @classmethod
    def resolve(cls, config: GenerateConfig, problem: Problem) -> SamplingParams:
        """The settings for ``problem``: its ``generation`` overrides, the run's, the domain's.

        A length limit given in ``extra_body`` (as ``max_tokens`` or
        ``max_completion_tokens``) is the limit, sent under that name.

        Raises:
            RecordError: the problem's ``generation`` field is not a valid override.
        """
        temperature, max_tokens = DOMAIN_DEFAULTS[problem.domain]
        params = cls(
            n=config.n,
            temperature=temperature if config.temperature is None else config.temperature,
            max_tokens=max_tokens if config.max_tokens is None else config.max_tokens,
            top_p=config.top_p,
            seed=config.seed,
            stop=tuple(config.stop) if config.stop else None,
            extra=config.extra_body,
            max_tokens_field=config.max_tokens_field,
        )
        override = problem.extra.get("generation")
        if override is not None:
            params = params._override(override)
        return params._limit_from_extra()

    def _override(self, override: Any) -> SamplingParams:
        if not isinstance(override, dict):
            raise RecordError("field 'generation' must be an object")
        unknown = set(override) - OVERRIDE_KEYS
        if unknown:
            raise RecordError(
                f"field 'generation' has unknown key(s) {sorted(unknown)} "
                f"(allowed: {sorted(OVERRIDE_KEYS)})"
            )
        for key in ("n", "max_tokens"):
            value = override.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise RecordError(f"field 'generation.{key}' must be a positive integer")
        for key in ("temperature", "top_p"):
            value = override.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0
            ):
                raise RecordError(f"field 'generation.{key}' must be a non-negative number")
        seed = override.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise RecordError("field 'generation.seed' must be an integer")
        stop = override.get("stop")
        if isinstance(stop, str):
            stop = [stop]
        if stop is not None and (
            not isinstance(stop, list) or not all(isinstance(x, str) for x in stop)
        ):
            raise RecordError("field 'generation.stop' must be a string or a list of strings")
        extra = override.get("extra_body")
        if extra is not None and not isinstance(extra, dict):
            raise RecordError("field 'generation.extra_body' must be an object")
        kept = {
            k: v
            for k, v in override.items()
            if v is not None and k in ("n", "max_tokens", "temperature", "top_p", "seed")
        }
        if stop is not None:
            kept["stop"] = tuple(stop) or None
        if extra:
            kept["extra"] = {**self.extra, **extra}
        return dataclasses.replace(self, **kept)

    def _limit_from_extra(self) -> SamplingParams:
        found = [k for k in MAX_TOKENS_FIELDS if k in self.extra]
        if not found:
            return self
        key = found[-1]
        value = self.extra[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RecordError(f"extra_body.{key} must be a positive integer")
        extra = {k: v for k, v in self.extra.items() if k not in MAX_TOKENS_FIELDS}
        return dataclasses.replace(self, max_tokens=value, max_tokens_field=key, extra=extra)


def split_reasoning(text: str) -> tuple[str, str | None]:
    """Splits a leading ``<think>…</think>`` block off a completion.

    Handles a closed block, a block left open by a truncated completion (all of it is
    reasoning), and the DeepSeek-R1 case where the chat template already opened the block so
    the text only holds the closing tag.

    Returns:
        ``(completion, reasoning)``; ``reasoning`` is None when there is no think block.
    """
    stripped = text.lstrip()
    if stripped.startswith("<think>"):
        body = stripped[len("<think>") :]
        reasoning, closed, rest = body.partition("</think>")
        if not closed:
            return "", reasoning.strip()
        return rest.lstrip(), reasoning.strip()
    head, closed, rest = text.partition("</think>")
    if closed and "<think>" not in head:
        return rest.lstrip(), head.strip()
    return text, None


def problem_fields(problem: Problem) -> dict[str, Any]:
    """The Problem part of a record as keyword arguments (``extra`` included)."""
    base = problem.problem_record()
    return {f.name: getattr(base, f.name) for f in dataclasses.fields(Problem)}


def make_sample(problem: Problem, **fields: Any) -> Sample:
    """A Sample of ``problem`` with the given Sample fields (``extra`` replaces the problem's)."""
    kwargs = problem_fields(problem)
    kwargs.update(fields)
    return Sample(**kwargs)


def error_samples(
    problem: Problem, indices: Iterable[int], message: str, model: str | None
) -> list[Sample]:
    """Samples recording a failed generation: empty completion, ``finish_reason="error"``,
    the reason in ``extra["error"]``."""
    base = problem_fields(problem)
    extra = {**base.pop("extra"), "error": message}
    return [
        Sample(
            **base,
            extra=extra,
            sample_index=i,
            model=model or "",
            completion="",
            reasoning=None,
            finish_reason="error",
            usage=None,
        )
        for i in indices
    ]


def request_seed(seed: int, problem_id: str, start: int) -> int:
    """The seed of the request for ``problem_id``'s samples from index ``start`` on.

    Stable across runs and processes (a hash, not Python's salted ``hash``).
    """
    digest = hashlib.blake2b(f"{seed}\0{problem_id}\0{start}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % _SEED_RANGE


def request_hash(parts: Mapping[str, Any]) -> str:
    """A stable hash of the request fields that decide a sample (the journal's key)."""
    data = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.blake2b(data, digest_size=12).hexdigest()


Deliver = Callable[[list[Sample]], Awaitable[None]]


class Prepared(Protocol):
    """A problem made ready for requests by a backend."""

    @property
    def request_hash(self) -> str:
        """Hash of the request parameters that change the output (length limit excepted)."""
        ...


class Backend(Protocol):
    """What the stage needs from a model backend.

    ``prepare`` renders a problem's request once; ``generate`` produces the samples with the
    given indices and hands each response's samples to ``deliver`` as soon as it arrives
    (failures become error samples there too).
    """

    #: Problems worth having in hand at once to keep every request slot busy.
    workers: int

    def prepare(self, problem: Problem, params: SamplingParams) -> Prepared: ...

    async def generate(self, prepared: Any, indices: Sequence[int], deliver: Deliver) -> None: ...

    async def background(self) -> None:
        """Work that runs beside the requests until cancelled (e.g. reading server metrics)."""
        ...


def _check_config(config: GenerateConfig) -> dict[str, Template]:
    if config.backend == "openai":
        urls = config.base_urls
        if not urls:
            raise ConfigError(
                "no model server: set --base-url or SFSTREAM_BASE_URL "
                "(e.g. http://127.0.0.1:8000/v1)"
            )
        if not config.model:
            raise ConfigError("no model name: set --model or SFSTREAM_MODEL")
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ConfigError(f"base URL must start with http:// or https://, got {url!r}")
    if config.backend == "transformers" and not config.model:
        raise ConfigError("no model: set --model to a Hugging Face id or a local directory")
    return load_templates(config.templates)


def generate_stage(config: GenerateConfig, progress: StageProgress | None = None) -> StageFn:
    """The generate stage function: Problem records in, Sample records out.

    The OpenAI backend keeps up to ``config.concurrency`` requests in flight (one per problem,
    with a native ``n``) and emits each response's samples as it arrives, so output order
    follows completion; the replay backend keeps input order.

    Args:
        config: The stage's options.
        progress: Counters to update: ``done`` counts problems, ``in_flight`` requests,
            ``tokens`` completion tokens, ``retries`` retried requests, ``errors`` error
            samples, ``reused`` samples taken from the journal.

    Raises:
        ConfigError: (at once) a missing base URL or model for the OpenAI backend, or
            templates that cannot be read.

    The returned stage raises :class:`~sfstream.errors.GenerationError` when the server cannot
    be reached after all retries or refuses every request (401/403/404), and
    :class:`~sfstream.errors.ConfigError` when the replay file or the journal cannot be read.
    """
    templates = _check_config(config)
    counters = progress if progress is not None else StageProgress("generate")

    async def stage(receive: Any, send: Any) -> None:
        if config.backend == "replay":
            from sfstream._replay import ReplayBackend

            # Own both stream ends even when the backend fails to open (a bad replay file).
            async with receive, send, ReplayBackend(config, counters) as replay:
                # Answers are instant: one worker keeps the input order.
                inner = concurrent_stage(_replay_worker(replay, counters), 1)
                await inner(receive, send)
            return
        backend_cm: Any
        if config.backend == "openai":
            from sfstream._openai import OpenAIBackend

            backend_cm = OpenAIBackend(config, templates, counters)
        else:
            from sfstream._transformers import TransformersBackend

            backend_cm = TransformersBackend(config, templates, counters)
        started = time.monotonic()
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(receive)
            await stack.enter_async_context(send)
            backend = await stack.enter_async_context(backend_cm)
            journal = None
            if config.journal:
                from sfstream._journal import Journal

                journal = await stack.enter_async_context(Journal(config.journal))
                log.info(
                    "generate: journal %s holds %d sample(s); reusing those that match",
                    config.journal,
                    journal.loaded,
                )
            async with anyio.create_task_group() as tg:
                tg.start_soon(backend.background)
                if journal is not None:
                    tg.start_soon(journal.sync_forever)
                inner = concurrent_stage(
                    _worker(config, backend, journal, counters), backend.workers
                )
                await inner(receive, send)
                tg.cancel_scope.cancel()
        _summary(config, counters, time.monotonic() - started)

    return stage


def _summary(config: GenerateConfig, progress: StageProgress, seconds: float) -> None:
    text = (
        f"generate: {progress.samples} sample(s) of {progress.done} problem(s) in "
        f"{seconds:.1f} s; {progress.tokens:,} completion + {progress.prompt_tokens:,} prompt "
        f"tokens; {progress.retries} retries, {progress.errors} error sample(s)"
    )
    if config.journal:
        text += (
            f"; {progress.reused} sample(s) reused from journal {config.journal}, "
            f"{progress.samples - progress.reused} generated"
        )
    log.info(text)


def _replay_worker(
    backend: Any, progress: StageProgress
) -> Callable[[Any, Callable[[Any], Awaitable[None]]], Awaitable[None]]:
    async def one(record: Any, emit: Callable[[Any], Awaitable[None]]) -> None:
        problem = _problem(record)
        progress.in_flight += 1
        try:
            samples = await backend.samples(problem)
        finally:
            progress.in_flight -= 1
        for sample in samples:
            if sample.finish_reason == "error":
                progress.errors += 1
            progress.samples += 1
            await emit(sample)
        progress.done += 1

    return one


def _problem(record: Any) -> Problem:
    problem = Problem.from_dict(record) if isinstance(record, Mapping) else record
    if not isinstance(problem, Problem):
        raise RecordError(f"generate reads problems, got {type(record).__name__}")
    return problem


def _worker(
    config: GenerateConfig, backend: Any, journal: Any, progress: StageProgress
) -> Callable[[Any, Callable[[Any], Awaitable[None]]], Awaitable[None]]:
    async def one(record: Any, emit: Callable[[Any], Awaitable[None]]) -> None:
        problem = _problem(record)
        try:
            params = SamplingParams.resolve(config, problem)
        except RecordError as e:
            for sample in error_samples(problem, range(config.n or 1), str(e), config.model):
                progress.errors += 1
                progress.samples += 1
                await emit(sample)
            progress.done += 1
            return
        n = params.n or 1
        prepared = backend.prepare(problem, params)
        missing: list[int] = []
        if journal is None:
            missing = list(range(n))
        else:
            key = prepared.request_hash
            for index in range(n):
                fields = journal.lookup(problem.id, index, key, params.max_tokens)
                if fields is None:
                    missing.append(index)
                    continue
                progress.reused += 1
                progress.samples += 1
                await emit(make_sample(problem, sample_index=index, **fields))

        async def deliver(samples: list[Sample]) -> None:
            if journal is not None:
                # Journaled before anything goes downstream: an emitted sample is never lost.
                journal.append(samples, prepared.request_hash, params.max_tokens)
            for sample in samples:
                if sample.finish_reason == "error":
                    progress.errors += 1
                progress.samples += 1
                await emit(sample)

        if missing:
            await backend.generate(prepared, missing, deliver)
        progress.done += 1

    return one


def generate(
    problems: AsyncIterable[Problem],
    config: GenerateConfig | None = None,
    **overrides: Any,
) -> AsyncIterator[Sample]:
    """Samples completions for each problem.

    Args:
        problems: Problem records (plain dicts in the record format are accepted too).
        config: The stage's options; None builds one from ``overrides`` and the environment.
        **overrides: Fields of :class:`GenerateConfig` that replace ``config``'s.

    Returns:
        An async generator of one :class:`~sfstream.records.Sample` per completion (``n`` per
        problem), in order of completion. Failed generations are samples with
        ``finish_reason == "error"``.

    Raises:
        ConfigError: bad options, when called (before any problem is read).
        GenerationError: the server cannot be reached, or refuses every request.

    Example:
        >>> async for s in generate(problems, backend="replay"):
        ...     print(s.id, s.sample_index, s.completion[:40])
    """
    config = configure(GenerateConfig, config, overrides, "generate")
    return iterate_stage(generate_stage(config), problems)
