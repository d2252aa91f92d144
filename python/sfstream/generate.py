"""The generate stage: problems in, model completions (samples) out.

Two backends:

* ``openai`` (default) sends each problem to an OpenAI-compatible server such as vLLM, as one
  ``/chat/completions`` (or ``/completions``) request with a native ``n``. Transient failures
  (429, 5xx, timeouts, dropped connections) are retried with exponential backoff and full
  jitter, honouring ``Retry-After``. A request the server refuses for good (a 400 such as
  "prompt too long") becomes ``n`` samples with ``finish_reason="error"`` and the server's
  message in ``extra["error"]``: nothing is dropped and the run goes on. Only a fault that
  would fail every request stops the run with :class:`~sfstream.errors.GenerationError`: a
  server that cannot be connected to after all retries, or a 401/403/404 (wrong key, model or
  URL).
* ``replay`` answers from recorded completions (by default the ones bundled with the package),
  so the whole pipeline runs offline and reproducibly.

Example:
    >>> import anyio, sfstream
    >>> async def main():
    ...     async for sample in sfstream.generate(problems, base_url="http://127.0.0.1:8000/v1",
    ...                                           model="Qwen/Qwen2.5-7B-Instruct", n=4):
    ...         print(sample.id, sample.sample_index, sample.finish_reason)
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sfstream.errors import ConfigError, RecordError, SfstreamError
from sfstream.pipeline import StageFn, concurrent_stage, first_error, iterate_stage
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
OVERRIDE_KEYS = frozenset({"temperature", "max_tokens", "top_p", "n"})

_SEED_RANGE = 2**31 - 2**16  # leaves room for servers that derive child seeds as seed + i


def _env(name: str) -> Callable[[], str | None]:
    return lambda: os.environ.get(name) or None


@dataclass(frozen=True, kw_only=True)
class GenerateConfig:
    """Options of the generate stage.

    Attributes:
        backend: ``"openai"`` for an OpenAI-compatible server, ``"replay"`` for recorded
            completions.
        base_url: Server URL including the API prefix, like ``http://127.0.0.1:8000/v1``
            (default: ``$SFSTREAM_BASE_URL``).
        model: Model name sent to the server (default: ``$SFSTREAM_MODEL``).
        api_key: Sent as a bearer token when set (default: ``$OPENAI_API_KEY``).
        endpoint: ``"chat"`` (system + user messages) or ``"completions"`` (one plain prompt).
        n: Samples per problem. None means the backend's default: 1 for ``openai``, every
            recorded sample for ``replay`` (where an explicit ``n`` keeps sample indices < n).
        temperature: Sampling temperature; None uses the domain default (math 0.7, code 0.8).
        max_tokens: Completion length limit; None uses the domain default (math 512,
            code 1024).
        top_p: Nucleus sampling, sent only when set.
        seed: Run seed. Each request gets a seed derived from it, the problem id and the
            first sample index, so a rerun asks for exactly the same samples.
        stop: Stop strings, sent only when set.
        extra_body: Extra request fields passed through as they are (``top_k``, ``min_p``,
            ``repetition_penalty``, ``chat_template_kwargs``...); they win over sfstream's own.
        concurrency: Requests in flight at once (the HTTP connection pool is sized to match).
        timeout: Seconds one request may take (long: reasoning traces take minutes).
        max_retries: Retries of one request after a transient failure.
        replay_path: Recorded completions for ``replay`` (default: the bundled file).
        templates: JSON file overriding the prompt templates (see ``templates.load_templates``).

    A problem can override ``temperature``, ``max_tokens``, ``top_p`` and ``n`` for itself with
    an object in its ``generation`` field (kept in ``Problem.extra``).
    """

    backend: Literal["openai", "replay"] = "openai"
    base_url: str | None = field(default_factory=_env("SFSTREAM_BASE_URL"))
    model: str | None = field(default_factory=_env("SFSTREAM_MODEL"))
    api_key: str | None = field(default_factory=_env("OPENAI_API_KEY"))
    endpoint: Literal["chat", "completions"] = "chat"
    n: int | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: list[str] | None = None
    extra_body: dict[str, Any] = field(default_factory=dict)
    concurrency: int = 64
    timeout: float = 3600.0
    max_retries: int = 8
    replay_path: str | None = None
    templates: str | None = None

    def __post_init__(self) -> None:
        if self.backend not in ("openai", "replay"):
            raise ConfigError(f"unknown generate backend {self.backend!r} (use openai or replay)")
        if self.endpoint not in ("chat", "completions"):
            raise ConfigError(f"unknown endpoint {self.endpoint!r} (use chat or completions)")
        for name, value, low in (
            ("n", self.n, 1),
            ("max_tokens", self.max_tokens, 1),
            ("concurrency", self.concurrency, 1),
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
        if not isinstance(self.extra_body, dict):
            raise ConfigError("extra_body must be an object")
        if self.stop is not None and (
            not isinstance(self.stop, list) or not all(isinstance(s, str) for s in self.stop)
        ):
            raise ConfigError("stop must be a list of strings")


@dataclass(frozen=True)
class SamplingParams:
    """The settings that apply to one problem, after domain defaults and its own overrides.

    Attributes:
        n: Samples wanted (None: every recorded one, replay only).
        temperature: Sampling temperature.
        max_tokens: Completion length limit.
        top_p: Nucleus sampling, or None to leave it to the server.
    """

    n: int | None
    temperature: float
    max_tokens: int
    top_p: float | None

    @classmethod
    def resolve(cls, config: GenerateConfig, problem: Problem) -> SamplingParams:
        """The settings for ``problem``: its ``generation`` overrides, the run's, the domain's.

        Raises:
            RecordError: the problem's ``generation`` field is not a valid override.
        """
        temperature, max_tokens = DOMAIN_DEFAULTS[problem.domain]
        params = cls(
            n=config.n,
            temperature=temperature if config.temperature is None else config.temperature,
            max_tokens=max_tokens if config.max_tokens is None else config.max_tokens,
            top_p=config.top_p,
        )
        override = problem.extra.get("generation")
        if override is None:
            return params
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
        kept = {k: v for k, v in override.items() if v is not None}
        return dataclasses.replace(params, **kept)


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
    problem: Problem, indices: range, message: str, model: str | None
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


class Backend(Protocol):
    """What the stage needs from a backend: all samples of one problem."""

    async def samples(self, problem: Problem) -> list[Sample]: ...


def _check_config(config: GenerateConfig) -> dict[str, Template]:
    if config.backend == "openai":
        if not config.base_url:
            raise ConfigError(
                "no model server: set --base-url or SFSTREAM_BASE_URL "
                "(e.g. http://127.0.0.1:8000/v1)"
            )
        if not config.model:
            raise ConfigError("no model name: set --model or SFSTREAM_MODEL")
        if not config.base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"base URL must start with http:// or https://, got {config.base_url!r}"
            )
    return load_templates(config.templates)


def generate_stage(config: GenerateConfig, progress: StageProgress | None = None) -> StageFn:
    """The generate stage function: Problem records in, Sample records out.

    The OpenAI backend works on up to ``config.concurrency`` problems at once (one request in
    flight each) and emits samples as their problems finish, so output order follows
    completion; the replay backend keeps input order.

    Args:
        config: The stage's options.
        progress: Counters to update: ``in_flight`` and ``done`` count problems, ``tokens``
            completion tokens, ``retries`` retried requests, ``errors`` error samples.

    Raises:
        ConfigError: (at once) a missing base URL or model for the OpenAI backend, or
            templates that cannot be read.

    The returned stage raises :class:`~sfstream.errors.GenerationError` when the server cannot
    be reached after all retries or refuses every request (401/403/404), and
    :class:`~sfstream.errors.ConfigError` when the replay file cannot be read.
    """
    templates = _check_config(config)
    counters = progress if progress is not None else StageProgress("generate")

    async def stage(receive: Any, send: Any) -> None:
        backend_cm: Any
        if config.backend == "openai":
            from sfstream._openai import OpenAIBackend

            backend_cm = OpenAIBackend(config, templates, counters)
            workers = config.concurrency
        else:
            from sfstream._replay import ReplayBackend

            backend_cm = ReplayBackend(config, counters)
            workers = 1  # answers are instant: keep the input order
        # Own both stream ends even when the backend fails to open (a bad replay file).
        async with receive, send, backend_cm as backend:
            inner = concurrent_stage(_worker(backend, counters), workers)
            await inner(receive, send)

    return stage


def _worker(
    backend: Backend, progress: StageProgress
) -> Callable[[Any, Callable[[Any], Awaitable[None]]], Awaitable[None]]:
    async def one(record: Any, emit: Callable[[Any], Awaitable[None]]) -> None:
        problem = Problem.from_dict(record) if isinstance(record, Mapping) else record
        if not isinstance(problem, Problem):
            raise RecordError(f"generate reads problems, got {type(record).__name__}")
        progress.in_flight += 1
        try:
            samples = await backend.samples(problem)
        finally:
            progress.in_flight -= 1
        for sample in samples:
            if sample.finish_reason == "error":
                progress.errors += 1
            await emit(sample)
        progress.done += 1

    return one


async def generate(
    problems: AsyncIterable[Problem],
    config: GenerateConfig | None = None,
    **overrides: Any,
) -> AsyncIterator[Sample]:
    """Samples completions for each problem.

    Args:
        problems: Problem records (plain dicts in the record format are accepted too).
        config: The stage's options; None builds one from ``overrides`` and the environment.
        **overrides: Fields of :class:`GenerateConfig` that replace ``config``'s.

    Yields:
        One :class:`~sfstream.records.Sample` per completion (``n`` per problem), in order of
        completion. Failed generations are samples with ``finish_reason == "error"``.

    Raises:
        ConfigError: bad options.
        GenerationError: the server cannot be reached, or refuses every request.

    Example:
        >>> async for s in generate(problems, backend="replay"):
        ...     print(s.id, s.sample_index, s.completion[:40])
    """
    unknown = set(overrides) - {f.name for f in dataclasses.fields(GenerateConfig)}
    if unknown:
        raise ConfigError(f"unknown generate option(s): {', '.join(sorted(unknown))}")
    if config is None:
        config = GenerateConfig(**overrides)
    elif overrides:
        config = dataclasses.replace(config, **overrides)
    stage = generate_stage(config)
    try:
        async for sample in iterate_stage(stage, problems):
            yield sample
    except BaseExceptionGroup as group:
        # The stage runs in task groups; callers should see our error, not the groups.
        error = first_error(group)
        if isinstance(error, SfstreamError):
            raise error from None
        raise
