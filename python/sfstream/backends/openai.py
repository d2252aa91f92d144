"""The OpenAI-compatible backend of the generate stage (vLLM, SGLang, llama.cpp, OpenAI...).

One request per problem with a native ``n``; if the server returns fewer choices than asked,
the rest are asked for in further requests. Requests go to the least loaded of the configured
servers (see :mod:`sfstream.backends.endpoints`). Failure policy:

* 408, 409, 425, 429 and 5xx responses, timeouts and transport errors (refused or reset
  connections) are retried up to ``max_retries`` times, waiting ``Retry-After`` when the server
  sends it and otherwise an exponential backoff with full jitter (uniform in
  ``[0, min(cap, base * 2**attempt)]``).
* 401, 403, 404 and 405 mean the key, the model name or the URL is wrong: every request would
  fail the same way, so :class:`~sfstream.errors.GenerationError` stops the run.
* Any other refusal (400 "prompt too long", 422...) is about this problem only: its samples
  become error samples carrying the server's message, and the run goes on.
* Retries exhausted: error samples with the last error, except when the last attempt could not
  even connect. A server that cannot be reached is dead, and a dead server should stop the run
  rather than turn every remaining problem into error samples, so that raises GenerationError.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import orjson

from sfstream._core import __version__
from sfstream.backends.base import (
    Backend,
    Deliver,
    GenerateConfig,
    SamplingParams,
    error_samples,
    load_tokenizer,
    make_sample,
    request_hash,
    request_seed,
    split_reasoning,
)
from sfstream.backends.endpoints import AdaptiveLimit, Balancer, Endpoint
from sfstream.backends.http import (
    HttpClient,
    HttpConnectError,
    HttpResponse,
    HttpTimeout,
    HttpTransportError,
    open_client,
)
from sfstream.errors import GenerationError
from sfstream.progress import StageProgress
from sfstream.records import Problem, Sample
from sfstream.templates import Template

__all__ = ["OpenAIBackend", "backoff_delay", "parse_retry_after"]

RETRYABLE_STATUS = frozenset({408, 409, 425, 429})
FATAL_STATUS = frozenset({401, 403, 404, 405})
#: Longest wait a Retry-After header can impose (a misconfigured proxy may ask for days).
MAX_RETRY_AFTER = 600.0
_MESSAGE_LIMIT = 2000
#: Starting limit per server with concurrency "auto" (the metrics move it from there).
AUTO_START = 16


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def backoff_delay(
    attempt: int,
    base: float,
    cap: float,
    rng: random.Random,
    retry_after: float | None = None,
) -> float:
    """Seconds to wait before retry number ``attempt + 1`` (``attempt`` counts from 0).

    Full jitter (AWS architecture blog, "Exponential Backoff and Jitter"), or the server's
    ``Retry-After`` stretched by up to 10% so that clients told the same time do not return
    at the same instant.
    """
    if retry_after is not None:
        return retry_after * (1.0 + 0.1 * rng.random())
    return rng.uniform(0.0, min(cap, base * 2.0**attempt))


@dataclass
class _Failure:
    """A request that failed for good, with the message its error samples carry."""

    message: str


class _Unreachable(Exception):
    pass


def _server_message(response: HttpResponse) -> str:
    """The error message a server put in its response (OpenAI and vLLM shapes)."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    message: Any = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            message = err.get("message")
        elif isinstance(err, str):
            message = err
        message = message or body.get("message") or body.get("detail")
    if not message:
        message = response.text.strip() or response.reason_phrase
    text = str(message)
    if len(text) > _MESSAGE_LIMIT:
        text = text[:_MESSAGE_LIMIT] + "…"
    return f"HTTP {response.status_code}: {text}"


@dataclass
class PreparedRequest:
    """A problem's request, rendered once: the fields every request for it shares."""

    problem: Problem
    params: SamplingParams
    body: dict[str, Any]
    path: str

    @property
    def request_hash(self) -> str:
        """Hash of what decides the samples: the body (model, prompt, sampling settings and
        extras) without ``n`` and the length limit, plus the path and the run seed."""
        return request_hash({"path": self.path, "seed": self.params.seed, "body": self.body})


class OpenAIBackend(Backend):
    """Talks to one or more OpenAI-compatible servers through one shared HTTP client
    (:mod:`sfstream.backends.http`).

    Use it as an async context manager; :meth:`generate` is safe to call concurrently.

    Args:
        config: The stage's options (``base_url`` and ``model`` must be set).
        templates: Prompt templates per domain.
        progress: Counters to update (``tokens``, ``retries``, ``in_flight``, ``limit``).
        backoff_base: First backoff ceiling in seconds.
        backoff_cap: Largest backoff ceiling in seconds.
        rng: Source of jitter (seed it in tests).
        client: The HTTP client to use instead of the default one (tests).

    Attributes:
        balancer: The request slots per server.
        adaptive: The metrics-driven limit, with ``concurrency="auto"``.
        workers: Problems worth having in hand to fill every slot.
    """

    def __init__(
        self,
        config: GenerateConfig,
        templates: dict[str, Template],
        progress: StageProgress,
        *,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        rng: random.Random | None = None,
        client: HttpClient | None = None,
    ) -> None:
        urls = config.base_urls
        if not urls or not config.model:
            raise GenerationError("the openai backend needs base_url and model")
        self.config = config
        self.model: str = config.model
        self.templates = templates
        self.progress = progress
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.rng = rng or random.Random()
        self.path = "/chat/completions" if config.endpoint == "chat" else "/completions"
        auto = config.concurrency == "auto"
        if auto:
            start = min(AUTO_START, config.max_concurrency)
            self.balancer = Balancer([Endpoint(u, start) for u in urls])
            self.workers = config.max_concurrency * len(urls)
            progress.limit = self.balancer.limit
        else:
            # A fixed limit is over all servers: the workers bound it, each server may take
            # all of it (the least loaded gets the next request).
            assert isinstance(config.concurrency, int)
            self.balancer = Balancer([Endpoint(u, config.concurrency) for u in urls])
            self.workers = config.concurrency
        headers = {"User-Agent": f"sfstream/{__version__}", "Content-Type": "application/json"}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        # No connection cap of its own: the balancer's limits are the only limit (vLLM #7241,
        # #14513). Connecting is quick or not at all; the answer may take many minutes.
        self._client = client or open_client(
            urls, headers, timeout=config.timeout, connect_timeout=min(config.timeout, 60.0)
        )
        self.adaptive = (
            AdaptiveLimit(
                self.balancer,
                self._client,
                interval=config.metrics_interval,
                ceiling=config.max_concurrency,
            )
            if auto
            else None
        )
        self._tokenizer: Any = None

    async def __aenter__(self) -> OpenAIBackend:
        if self.config.chat_template:
            try:
                self._tokenizer = await anyio.to_thread.run_sync(
                    load_tokenizer, self.config.tokenizer or self.model
                )
            except BaseException:
                await self._client.aclose()
                raise
        return self

    async def aclose(self) -> None:
        await self._client.aclose()

    async def background(self) -> None:
        """With ``concurrency="auto"``, reads the servers' metrics and moves the limits."""
        if self.adaptive is None:
            return
        while True:
            await self.adaptive.step()
            self.progress.limit = self.balancer.limit
            await anyio.sleep(self.adaptive.interval)

    # -- requests -------------------------------------------------------------------------

    def prepare(self, problem: Problem, params: SamplingParams) -> PreparedRequest:
        """Renders ``problem``'s prompt and the sampling fields its requests share."""
        template = self.templates[problem.domain]
        body: dict[str, Any] = {"model": self.model}
        if self.config.endpoint == "chat":
            body["messages"] = template.messages(problem.problem, problem.starter_code)
        else:
            body["prompt"] = template.prompt(problem.problem, problem.starter_code, self._tokenizer)
        body["temperature"] = params.temperature
        if params.top_p is not None:
            body["top_p"] = params.top_p
        if params.stop:
            body["stop"] = list(params.stop)
        body.update(params.extra)
        return PreparedRequest(problem, params, body, self.path)

    def _content(self, prepared: PreparedRequest, n: int, start: int) -> bytes:
        body = dict(prepared.body)
        params = prepared.params
        body["n"] = n
        body[params.max_tokens_field] = params.max_tokens
        if params.seed is not None:
            body["seed"] = request_seed(params.seed, prepared.problem.id, start)
        return orjson.dumps(body)

    async def _post(self, content: bytes) -> dict[str, Any] | _Failure:
        """POSTs with retries; the decoded response, or why it failed for good.

        Each attempt takes a slot on the least loaded server (a retry may go elsewhere); the
        slot is given back before any backoff.

        Raises:
            GenerationError: the server refuses every request or cannot be reached.
        """
        attempts = self.config.max_retries + 1
        last = ""
        unreachable = False
        for attempt in range(attempts):
            retry_after: float | None = None
            endpoint = await self.balancer.acquire()
            self.progress.in_flight += 1
            try:
                response = await self._client.request("POST", endpoint.url + self.path, content)
            except HttpConnectError as e:
                last, unreachable = f"cannot connect to {endpoint.url}: {e}", True
                self.balancer.mark_down(endpoint, min(30.0, 2.0**attempt))
            except HttpTimeout as e:
                last, unreachable = f"request timed out: {e}", False
            except HttpTransportError as e:
                last, unreachable = f"connection failed: {e}", False
            else:
                unreachable = False
                status = response.status_code
                if status == 200:
                    try:
                        data = orjson.loads(response.content)
                    except orjson.JSONDecodeError:
                        data = None
                    if isinstance(data, dict):
                        return data
                    last = "HTTP 200 with a body that is not a JSON object"
                elif status in FATAL_STATUS:
                    hint = (
                        " (is the base URL right? it usually ends in /v1)"
                        if status in (404, 405)
                        else ""
                    )
                    raise GenerationError(
                        f"{endpoint.url}{self.path} refused the request for model "
                        f"{self.model!r}: {_server_message(response)}{hint}"
                    )
                elif status in RETRYABLE_STATUS or status >= 500:
                    last = _server_message(response)
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
                else:
                    return _Failure(_server_message(response))
            finally:
                self.progress.in_flight -= 1
                self.balancer.release(endpoint)
            if attempt + 1 < attempts:
                self.progress.retries += 1
                await anyio.sleep(
                    backoff_delay(
                        attempt, self.backoff_base, self.backoff_cap, self.rng, retry_after
                    )
                )
        if unreachable:
            raise GenerationError(f"{last} (gave up after {attempts} attempts)")
        return _Failure(f"{last} (gave up after {attempts} attempts)")

    # -- samples --------------------------------------------------------------------------

    async def generate(
        self, prepared: PreparedRequest, indices: Sequence[int], deliver: Deliver
    ) -> None:
        """The samples ``indices`` of a prepared problem, delivered response by response.

        One request asks for all of them (native ``n``); if the server returns fewer choices,
        further requests ask for the rest. Failures are delivered as error samples.
        """
        problem = prepared.problem
        remaining = list(indices)
        while remaining:
            content = self._content(prepared, len(remaining), remaining[0])
            result = await self._post(content)
            if isinstance(result, _Failure):
                await deliver(error_samples(problem, remaining, result.message, self.model))
                return
            got = self._parse(problem, result, remaining)
            if not got:
                await deliver(
                    error_samples(problem, remaining, "the server returned no choices", self.model)
                )
                return
            remaining = remaining[len(got) :]
            await deliver(got)

    def _parse(self, problem: Problem, data: dict[str, Any], indices: list[int]) -> list[Sample]:
        raw = data.get("choices")
        choices = [c for c in raw if isinstance(c, dict)] if isinstance(raw, list) else []
        choices.sort(key=_choice_index)
        choices = choices[: len(indices)]
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else None
        if usage is not None:
            tokens = usage.get("completion_tokens")
            if isinstance(tokens, int):
                self.progress.tokens += tokens
            prompt = usage.get("prompt_tokens")
            if isinstance(prompt, int):
                self.progress.prompt_tokens += prompt
        model = data.get("model") if isinstance(data.get("model"), str) else self.model
        samples = []
        for index, choice in zip(indices, choices, strict=False):
            completion, reasoning = self._texts(choice)
            samples.append(
                make_sample(
                    problem,
                    sample_index=index,
                    model=model,
                    completion=completion,
                    reasoning=reasoning,
                    finish_reason=str(choice.get("finish_reason") or "unknown"),
                    usage=_choice_usage(usage, choice, len(choices)),
                )
            )
        return samples

    def _texts(self, choice: dict[str, Any]) -> tuple[str, str | None]:
        if self.config.endpoint == "chat":
            message = choice.get("message")
            message = message if isinstance(message, dict) else {}
            content = message.get("content")
            text = content if isinstance(content, str) else ""
            # vLLM renamed reasoning_content to reasoning in v0.11; accept both.
            reasoning = message.get("reasoning_content") or message.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                return text, reasoning
        else:
            raw = choice.get("text")
            text = raw if isinstance(raw, str) else ""
        return split_reasoning(text)


def _choice_index(choice: dict[str, Any]) -> int:
    index = choice.get("index")
    return index if isinstance(index, int) else 0


def _choice_usage(
    usage: dict[str, Any] | None, choice: dict[str, Any], count: int
) -> dict[str, Any] | None:
    """The usage to record on one sample.

    Per-choice counts when the server gives them (a ``usage`` object on the choice, or the
    generated ``token_ids`` that vLLM returns with ``return_token_ids``); for a response of one
    choice, the response's usage; otherwise the response's usage with ``shared_by`` saying how
    many samples it covers (prompt tokens are counted once per request, completion tokens for
    all its choices together).
    """
    prompt = usage.get("prompt_tokens") if usage else None
    own = choice.get("usage")
    if isinstance(own, dict):
        merged = dict(own)
        if prompt is not None:
            merged.setdefault("prompt_tokens", prompt)
        return merged
    token_ids = choice.get("token_ids")
    if isinstance(token_ids, list):
        out: dict[str, Any] = {"completion_tokens": len(token_ids)}
        if isinstance(prompt, int):
            out["prompt_tokens"] = prompt
            out["total_tokens"] = prompt + len(token_ids)
        return out
    if usage is None:
        return None
    if count <= 1:
        return dict(usage)
    return {**usage, "shared_by": count}
