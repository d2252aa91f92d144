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
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import anyio

from sfstream._config import configure
from sfstream._journal import Journal
from sfstream.backends import open_backend
from sfstream.backends.base import (
    DOMAIN_DEFAULTS,
    Backend,
    GenerateConfig,
    SamplingParams,
    error_samples,
    make_sample,
    request_seed,
    split_reasoning,
)
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
    "request_seed",
    "split_reasoning",
]

log = logging.getLogger("sfstream")


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
        started = time.monotonic()
        # Own both stream ends even when the backend fails to open (a bad replay file).
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(receive)
            await stack.enter_async_context(send)
            backend = open_backend(config, templates, counters)
            await stack.enter_async_context(backend)
            journal = None
            if config.journal and backend.resumable:
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
        if backend.resumable:  # recorded answers: no requests, retries or reuse to report
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


def _problem(record: Any) -> Problem:
    problem = Problem.from_dict(record) if isinstance(record, Mapping) else record
    if not isinstance(problem, Problem):
        raise RecordError(f"generate reads problems, got {type(record).__name__}")
    return problem


def _worker(
    config: GenerateConfig, backend: Backend, journal: Journal | None, progress: StageProgress
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
        prepared = backend.prepare(problem, params)
        wanted = backend.indices(prepared)
        missing: list[int] = []
        if journal is None:
            missing = list(wanted)
        else:
            key = prepared.request_hash
            for index in wanted:
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
