"""Where requests go: several servers balanced by load, and an in-flight limit that can follow
the server's own queue.

* :class:`Balancer` hands out request slots. Each :class:`Endpoint` (one base URL) has a limit
  of requests in flight; a slot goes to the endpoint with the lowest ``in_flight / limit``,
  so a slow server (whose requests stay in flight longer) gets fewer new ones. When every
  endpoint is full, callers wait in a FIFO queue and each freed slot is handed to exactly one
  of them (no thundering herd at thousands of waiters).
* :class:`AdaptiveLimit` reads vLLM's Prometheus ``/metrics`` every few seconds and moves each
  endpoint's limit so that the server's waiting queue stays just full: a few requests waiting
  means the server never idles between batches, while a long queue only adds latency (and
  puts work at risk of preemption) without adding throughput. See :func:`next_limit`.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field

import anyio

from sfstream.backends.http import HttpClient, HttpError

__all__ = [
    "AdaptiveLimit",
    "Balancer",
    "Endpoint",
    "ServerLoad",
    "next_limit",
    "parse_metrics",
]

log = logging.getLogger("sfstream")

RUNNING = "vllm:num_requests_running"
WAITING = "vllm:num_requests_waiting"


def server_root(base_url: str) -> str:
    """The server root of an API base URL (``http://h:8000/v1`` → ``http://h:8000``), where
    vLLM serves ``/metrics``."""
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


@dataclass
class Endpoint:
    """One server.

    Attributes:
        url: API base URL (``.../v1``).
        limit: Requests it may have in flight.
        in_flight: Requests in flight now.
        sent: Requests sent so far (attempts, retries included).
        down_until: ``time.monotonic()`` before which it is avoided after a connection failure.
        load: The last load read from its metrics, if any.
    """

    url: str
    limit: int
    in_flight: int = 0
    sent: int = 0
    down_until: float = 0.0
    load: ServerLoad | None = None

    @property
    def root(self) -> str:
        return server_root(self.url)


@dataclass
class _Waiter:
    event: anyio.Event = field(default_factory=anyio.Event)
    endpoint: Endpoint | None = None


class Balancer:
    """Request slots over several endpoints, least loaded first.

    Args:
        endpoints: The servers, each with its starting limit.
    """

    def __init__(self, endpoints: list[Endpoint]) -> None:
        if not endpoints:
            raise ValueError("at least one endpoint is needed")
        self.endpoints = endpoints
        self._waiters: deque[_Waiter] = deque()

    @property
    def in_flight(self) -> int:
        return sum(e.in_flight for e in self.endpoints)

    @property
    def limit(self) -> int:
        return sum(e.limit for e in self.endpoints)

    def _pick(self) -> Endpoint | None:
        best: Endpoint | None = None
        best_key = (True, 0.0, 0)
        now = time.monotonic()
        for e in self.endpoints:
            if e.in_flight >= e.limit:
                continue
            # A server that just refused connections is used only when no other has room.
            key = (e.down_until > now, e.in_flight / e.limit, e.in_flight)
            if best is None or key < best_key:
                best, best_key = e, key
        return best

    async def acquire(self) -> Endpoint:
        """Waits for a free slot and returns its endpoint (give it back with :meth:`release`)."""
        if not self._waiters:
            chosen = self._pick()
            if chosen is not None:
                chosen.in_flight += 1
                chosen.sent += 1
                return chosen
        waiter = _Waiter()
        self._waiters.append(waiter)
        try:
            await waiter.event.wait()
        except BaseException:
            if waiter.endpoint is not None:
                self.release(waiter.endpoint)  # handed a slot just as it was cancelled
            else:
                self._waiters.remove(waiter)
            raise
        assert waiter.endpoint is not None
        return waiter.endpoint

    def release(self, endpoint: Endpoint) -> None:
        """Gives a slot back."""
        endpoint.in_flight -= 1
        self._dispatch()

    def set_limit(self, endpoint: Endpoint, limit: int) -> None:
        """Changes an endpoint's limit (requests above a lowered limit finish normally)."""
        endpoint.limit = max(1, limit)
        self._dispatch()

    def mark_down(self, endpoint: Endpoint, seconds: float) -> None:
        """Avoids ``endpoint`` for ``seconds`` while others have room."""
        endpoint.down_until = time.monotonic() + seconds

    def _dispatch(self) -> None:
        while self._waiters:
            chosen = self._pick()
            if chosen is None:
                return
            waiter = self._waiters.popleft()
            chosen.in_flight += 1
            chosen.sent += 1
            waiter.endpoint = chosen
            waiter.event.set()


@dataclass(frozen=True)
class ServerLoad:
    """What a server's metrics say about its queue."""

    running: float
    waiting: float


def parse_metrics(text: str) -> ServerLoad | None:
    """Running and waiting requests from vLLM's Prometheus text (summed over label sets, e.g.
    several engines or models). None when neither gauge is there (not a vLLM server)."""
    running = waiting = 0.0
    found = False
    for line in text.splitlines():
        if not line.startswith("vllm:"):
            continue
        ends = [i for i in (line.find("{"), line.find(" ")) if i >= 0]
        name = line[: min(ends)] if ends else line
        if name not in (RUNNING, WAITING):
            continue
        try:
            value = float(line.rsplit(None, 1)[-1])
        except ValueError:
            continue
        found = True
        if name == RUNNING:
            running += value
        else:
            waiting += value
    return ServerLoad(running, waiting) if found else None


def next_limit(
    limit: int,
    in_flight: int,
    load: ServerLoad,
    *,
    floor: int,
    ceiling: int,
    target: int | None = None,
) -> int:
    """The next in-flight limit for a server whose metrics read ``load``.

    ``target`` is the queue to keep (default: 2, or 1/16 of the running requests on a big
    server). Nothing waiting while we use our whole limit means the server could take more:
    grow by half. Fewer than ``target`` waiting: grow by the difference. More than twice the
    target waiting: shrink by the excess. Otherwise hold. A limit we do not use (fewer
    problems than slots) is never grown.
    """
    if target is None:
        target = max(2, int(load.running) // 16)
    waiting = int(load.waiting)
    using_it = in_flight >= limit - max(1, limit // 10)
    if waiting > 2 * target:
        new = limit - (waiting - target)
    elif waiting < target and using_it:
        new = limit + (max(target, limit // 2) if waiting == 0 else target - waiting)
    else:
        new = limit
    return max(floor, min(ceiling, new))


class AdaptiveLimit:
    """Moves each endpoint's limit with its server's ``/metrics`` (see :func:`next_limit`).

    Args:
        balancer: Whose endpoints' limits to move.
        client: The HTTP client to read metrics with.
        interval: Seconds between readings.
        floor: Smallest limit.
        ceiling: Largest limit per endpoint.

    Attributes:
        history: ``(endpoint url, load, new limit)`` of every reading (newest last, bounded).
    """

    def __init__(
        self,
        balancer: Balancer,
        client: HttpClient,
        *,
        interval: float,
        floor: int = 1,
        ceiling: int,
    ) -> None:
        self.balancer = balancer
        self.client = client
        self.interval = interval
        self.floor = floor
        self.ceiling = ceiling
        self.history: deque[tuple[str, ServerLoad, int]] = deque(maxlen=10_000)
        self._failed: set[str] = set()

    async def read(self, endpoint: Endpoint) -> ServerLoad | None:
        """One reading of ``endpoint``'s metrics (None when they cannot be read)."""
        try:
            response = await self.client.request("GET", endpoint.root + "/metrics", time_limit=10.0)
        except HttpError as e:
            self._warn(endpoint, f"cannot read {endpoint.root}/metrics ({type(e).__name__})")
            return None
        load = parse_metrics(response.text) if response.status_code == 200 else None
        if load is None:
            self._warn(
                endpoint,
                f"{endpoint.root}/metrics has no {RUNNING} (HTTP {response.status_code}); "
                f"keeping its limit at {endpoint.limit}",
            )
        return load

    def _warn(self, endpoint: Endpoint, message: str) -> None:
        if endpoint.url not in self._failed:
            self._failed.add(endpoint.url)
            log.warning("concurrency auto: %s", message)

    async def step(self) -> None:
        """Reads every endpoint once and sets its limit."""
        for endpoint in self.balancer.endpoints:
            load = await self.read(endpoint)
            if load is None:
                continue
            endpoint.load = load
            new = next_limit(
                endpoint.limit,
                endpoint.in_flight,
                load,
                floor=self.floor,
                ceiling=self.ceiling,
            )
            self.history.append((endpoint.url, load, new))
            if new != endpoint.limit:
                self.balancer.set_limit(endpoint, new)
