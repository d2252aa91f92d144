"""What every generation backend shares: the stage's options, the sampling settings of one
problem, the :class:`Backend` protocol the stage drives, and the functions that build samples.

The backends (:mod:`~sfstream.backends.openai`, :mod:`~sfstream.backends.replay`,
:mod:`~sfstream.backends.transformers`) import this module and nothing of the stage that uses
them (:mod:`sfstream.generate`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Protocol, Self

import anyio
import orjson

from sfstream.errors import ConfigError, RecordError
from sfstream.records import Problem, Sample

__all__ = [
    "DOMAIN_DEFAULTS",
    "Backend",
    "Deliver",
    "GenerateConfig",
    "Prepared",
    "SamplingParams",
    "error_samples",
    "load_tokenizer",
    "make_sample",
    "problem_fields",
    "request_hash",
    "request_seed",
    "split_base_urls",
    "split_reasoning",
]

#: Sampling defaults of the design document per domain: (temperature, max_tokens).
DOMAIN_DEFAULTS: dict[str, tuple[float, int]] = {"math": (0.7, 512), "code": (0.8, 1024)}

#: Keys a problem may set in ``extra["generation"]`` to override the run's settings.
OVERRIDE_KEYS = frozenset({"temperature", "max_tokens", "top_p", "n", "seed", "stop", "extra_body"})

#: Request fields that set the completion's length limit.
MAX_TOKENS_FIELDS = ("max_tokens", "max_completion_tokens")

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
        batch_size: ``transformers`` backend: samples generated together in one padded batch
            (samples of several problems share a batch; each stops on its own).
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
    batch_size: int = 8
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
            ("batch_size", self.batch_size, 1),
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
    def problem(self) -> Problem:
        """The problem."""
        ...

    @property
    def params(self) -> SamplingParams:
        """Its sampling settings."""
        ...

    @property
    def request_hash(self) -> str:
        """Hash of the request parameters that change the output (length limit excepted)."""
        ...


class Backend(Protocol):
    """What the generate stage needs from a model backend (used as an async context manager).

    ``prepare`` renders a problem's request once; ``indices`` names the samples wanted of it;
    ``generate`` produces the samples with the given indices and hands each response's samples
    to ``deliver`` as soon as it arrives (failures become error samples there too). A backend
    class that subclasses this protocol inherits the defaults below.
    """

    #: Problems worth having in hand at once to keep every request slot busy.
    workers: int = 1
    #: Whether its samples go through the journal (recorded answers need none).
    resumable: bool = True

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with anyio.CancelScope(shield=True):
            await self.aclose()

    async def aclose(self) -> None:
        """Releases what entering took (a model, connections); runs even when cancelled."""
        return

    def prepare(self, problem: Problem, params: SamplingParams) -> Prepared: ...

    def indices(self, prepared: Any) -> Sequence[int]:
        """The sample indices wanted of a prepared problem: ``0 .. n-1``."""
        n: int | None = prepared.params.n
        return range(n or 1)

    async def generate(self, prepared: Any, indices: Sequence[int], deliver: Deliver) -> None: ...

    async def background(self) -> None:
        """Work that runs beside the requests until cancelled (e.g. reading server metrics)."""
        return


def split_base_urls(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Base URLs from a comma-separated string or a list (each may hold commas too)."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    urls = [part.strip().rstrip("/") for item in items for part in str(item).split(",")]
    return tuple(u for u in urls if u)


def load_tokenizer(name: str) -> Any:
    """The tokenizer of ``name`` (a local directory or a Hugging Face id), for its chat
    template.

    Raises:
        ConfigError: transformers is not installed, or the tokenizer cannot be loaded or has
            no chat template.
    """
    try:
        import jinja2  # noqa: F401  (transformers needs it for chat templates)
        from transformers import AutoTokenizer
    except ImportError:
        raise ConfigError(
            "rendering the chat template needs transformers: "
            "pip install 'sfstream[transformers]' (or just transformers)"
        ) from None
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot load the tokenizer of {name!r}: {e}") from None
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(f"the tokenizer of {name!r} has no chat template")
    return tokenizer
