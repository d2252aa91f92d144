"""The streaming spine: stages wired by bounded memory streams inside one task group.

A *stage function* is a coroutine ``stage(receive, send)`` that owns both stream ends: it reads
records from ``receive`` until it is exhausted, sends its output to ``send``, and closes both.
:func:`open_pipeline` runs a source and a chain of stage functions in one task group, joined by
small buffers, so a slow stage slows its producer instead of growing memory, and an error in any
stage cancels all the others and propagates out of the ``async with`` as itself (the error that
stopped the pipeline, not the task groups' ``ExceptionGroup`` around it).

The public stages (``sfstream.generate`` and friends) are async generators built on the same
stage functions by :func:`iterate_stage`. Iterate them to the end, or close them with
``contextlib.aclosing``, since they run tasks of their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

__all__ = [
    "DEFAULT_BUFFER",
    "StageFn",
    "concurrent_stage",
    "first_error",
    "iterate_stage",
    "map_stage",
    "open_pipeline",
]

T = TypeVar("T")
U = TypeVar("U")

#: Records buffered between two stages. Small on purpose: backpressure is the point.
DEFAULT_BUFFER = 8

StageFn = Callable[
    [MemoryObjectReceiveStream[Any], MemoryObjectSendStream[Any]], Coroutine[Any, Any, None]
]


async def _feed(source: AsyncIterable[T], send: MemoryObjectSendStream[T]) -> None:
    iterator = aiter(source)
    try:
        async with send:
            async for item in iterator:
                await send.send(item)
    finally:
        # Close an async generator source here, in its own task, even when cancelled: left
        # to the garbage collector it would be finalised outside any event loop task.
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            with anyio.CancelScope(shield=True):
                await aclose()


@asynccontextmanager
async def open_pipeline(
    source: AsyncIterable[Any],
    stages: Sequence[StageFn],
    *,
    buffer_size: int = DEFAULT_BUFFER,
) -> AsyncIterator[MemoryObjectReceiveStream[Any]]:
    """Runs ``source`` through ``stages`` and hands out the receive end of the last one.

    Args:
        source: Records fed to the first stage.
        stages: Stage functions, applied in order.
        buffer_size: Records buffered between two stages.

    Yields:
        The stream of the last stage's output. Leaving the ``async with`` early (a ``break``)
        stops every stage.

    Example:
        >>> async def double(receive, send):
        ...     async with receive, send:
        ...         async for x in receive:
        ...             await send.send(2 * x)
    """
    try:
        async with anyio.create_task_group() as tg:
            send, receive = anyio.create_memory_object_stream[Any](buffer_size)
            tg.start_soon(_feed, source, send)
            for stage in stages:
                next_send, next_receive = anyio.create_memory_object_stream[Any](buffer_size)
                tg.start_soon(stage, receive, next_send)
                receive = next_receive
            async with receive:
                yield receive
                # The consumer stopped before the end: nothing more is wanted from any stage.
                tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # The one place where the task groups' wrapping comes off: callers of every stage and
        # of the whole pipeline see the error that stopped it, not a group around it.
        error = first_error(group)
        if error is group or _is_cancellation(error):
            raise
        raise error from None


async def iterate_stage(
    stage: StageFn, source: AsyncIterable[Any], *, buffer_size: int = DEFAULT_BUFFER
) -> AsyncIterator[Any]:
    """Exposes one stage function as an async generator over ``source``."""
    async with open_pipeline(source, [stage], buffer_size=buffer_size) as receive:
        async for item in receive:
            yield item


def map_stage(fn: Callable[[Any], Awaitable[Any]]) -> StageFn:
    """A sequential stage that sends ``await fn(record)`` for each record (None drops it)."""

    async def stage(
        receive: MemoryObjectReceiveStream[Any], send: MemoryObjectSendStream[Any]
    ) -> None:
        async with receive, send:
            async for item in receive:
                out = await fn(item)
                if out is not None:
                    await send.send(out)

    return stage


def concurrent_stage(
    fn: Callable[[Any, Callable[[Any], Awaitable[None]]], Awaitable[None]],
    concurrency: int,
) -> StageFn:
    """A stage that runs ``fn(record, emit)`` for up to ``concurrency`` records at once.

    ``fn`` calls ``await emit(out)`` for each output record. Output order follows completion,
    not input. A worker takes a new record only when it has emitted the last one's output, so
    at most ``concurrency`` records are in hand at any time.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")

    async def worker(
        receive: MemoryObjectReceiveStream[Any], send: MemoryObjectSendStream[Any]
    ) -> None:
        async with receive, send:
            async for item in receive:
                await fn(item, send.send)

    async def stage(
        receive: MemoryObjectReceiveStream[Any], send: MemoryObjectSendStream[Any]
    ) -> None:
        async with receive, send, anyio.create_task_group() as tg:
            for _ in range(concurrency):
                tg.start_soon(worker, receive.clone(), send.clone())

    return stage


def first_error(exc: BaseException) -> BaseException:
    """The first non-group exception inside ``exc`` (task groups wrap errors in groups).

    Cancellation and exit requests inside a group are skipped in favour of the error that caused
    them.
    """
    if isinstance(exc, BaseExceptionGroup):
        found: list[BaseException] = []
        for sub in exc.exceptions:
            found.append(first_error(sub))
        for sub in found:
            if not _is_cancellation(sub):
                return sub
        return found[0] if found else exc
    return exc


def _is_cancellation(exc: BaseException) -> bool:
    # asyncio's and trio's cancellation classes, without needing a running event loop.
    return (
        isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt, SystemExit, GeneratorExit))
        or type(exc).__name__ == "Cancelled"
    )
