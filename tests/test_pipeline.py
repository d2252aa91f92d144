"""The streaming spine: backpressure, error propagation, cancellation, early exit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from sfstream.pipeline import (
    DEFAULT_BUFFER,
    concurrent_stage,
    first_error,
    iterate_stage,
    map_stage,
    open_pipeline,
)

pytestmark = pytest.mark.anyio


async def numbers(n: int, produced: list[int] | None = None) -> AsyncIterator[int]:
    for i in range(n):
        if produced is not None:
            produced.append(i)
        yield i


async def double(x: int) -> int:
    return 2 * x


async def test_stages_compose_in_order() -> None:
    async with open_pipeline(numbers(100), [map_stage(double), map_stage(double)]) as out:
        got = [x async for x in out]
    assert got == [4 * i for i in range(100)]


async def test_backpressure_bounds_what_is_produced_ahead() -> None:
    # A slow consumer: the producer may run ahead only by the buffers between the stages.
    produced: list[int] = []
    stages = [map_stage(double), map_stage(double)]
    consumed = 0
    async with open_pipeline(numbers(10_000, produced), stages) as out:
        async for _ in out:
            consumed += 1
            await anyio.sleep(0.001)
            # 3 buffers, plus one item held by each of the feeder and the 2 stages.
            assert len(produced) - consumed <= 3 * DEFAULT_BUFFER + 3
            if consumed == 200:
                break
    assert len(produced) < 200 + 3 * DEFAULT_BUFFER + 4


async def test_concurrent_stage_runs_in_parallel_and_bounds_in_flight() -> None:
    in_flight = peak = 0

    async def slow(x: int, emit: Callable[[Any], Awaitable[None]]) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await anyio.sleep(0.01)
        in_flight -= 1
        await emit(x)

    with anyio.fail_after(5):
        async with open_pipeline(numbers(200), [concurrent_stage(slow, 20)]) as out:
            got = sorted([x async for x in out])
    assert got == list(range(200))
    assert peak == 20  # 200 x 10 ms took well under 5 s only because 20 ran at once


async def test_error_in_one_stage_cancels_the_others() -> None:
    cancelled = anyio.Event()

    async def forever(
        receive: MemoryObjectReceiveStream[Any], send: MemoryObjectSendStream[Any]
    ) -> None:
        async with receive, send:
            try:
                await anyio.sleep_forever()
            finally:
                cancelled.set()

    async def broken(
        receive: MemoryObjectReceiveStream[Any], send: MemoryObjectSendStream[Any]
    ) -> None:
        async with receive, send:
            raise ValueError("stage failed")

    # The error itself comes out, not the task groups' exception group around it.
    with pytest.raises(ValueError, match="stage failed"):
        with anyio.fail_after(5):
            async with open_pipeline(numbers(10), [forever, broken]) as out:
                async for _ in out:
                    pass
    assert cancelled.is_set()


async def test_error_in_source_propagates() -> None:
    async def bad_source() -> AsyncIterator[int]:
        yield 1
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError, match="source broke"):
        async with open_pipeline(bad_source(), [map_stage(double)]) as out:
            async for _ in out:
                pass


async def test_consumer_leaving_early_stops_every_stage() -> None:
    produced: list[int] = []
    with anyio.fail_after(5):
        async with open_pipeline(numbers(10**9, produced), [map_stage(double)]) as out:
            async for x in out:
                if x == 10:
                    break
    assert len(produced) < 100


async def test_iterate_stage_is_an_async_generator() -> None:
    got = [x async for x in iterate_stage(map_stage(double), numbers(5))]
    assert got == [0, 2, 4, 6, 8]


def test_first_error_prefers_the_cause_over_cancellation() -> None:
    import asyncio

    group = BaseExceptionGroup("g", [asyncio.CancelledError(), KeyError("k")])
    assert isinstance(first_error(group), KeyError)
    nested = BaseExceptionGroup("outer", [BaseExceptionGroup("inner", [OSError("x")])])
    assert isinstance(first_error(nested), OSError)
