"""FaultInjectingProxy: a fake front for the real vLLM server that injects faults on demand.

A real server will not answer 429, 500 or drop a connection when a test wants it to, so this
proxy forwards every request to the real server except the ones a test chose, which get:

* ``"429"``: ``429 Too Many Requests`` with ``Retry-After`` (seconds, default 1);
* ``"500"``: ``500 Internal Server Error`` with an OpenAI-style error body;
* ``"503"``: ``503 Service Unavailable`` without ``Retry-After``;
* ``"reset"``: the connection is reset (TCP RST) after the request was read, with no response;
* ``"stall"``: the request is held for ``stall`` seconds (longer than the client's timeout) and
  the connection then closed with no response;
* ``"one-choice"``: forwarded, but only the first choice of the answer is passed back (a
  server that ignores ``n``).

Every forwarded request can also be slowed by ``delay`` seconds (a slow server, for load
balancing and for killing a run mid-way). It runs in a thread, so it works the same under
asyncio and trio, and records every request (number, path, decoded JSON body, time, fault) for
the test to inspect; ``answered`` counts the responses it passed back.
"""

from __future__ import annotations

import http.server
import json
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FaultInjectingProxy", "Seen"]


@dataclass
class Seen:
    """One request the proxy received."""

    number: int
    path: str
    body: Any
    headers: dict[str, str]
    at: float
    fault: str | None


@dataclass
class _State:
    upstream: str
    plan: Callable[[int], str | None]
    retry_after: str
    delay: float = 0.0
    stall: float = 5.0
    answered: int = 0
    in_flight: int = 0
    peak: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    seen: list[Seen] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class _Handler(http.server.BaseHTTPRequestHandler):
    state: _State  # set on the subclass the proxy makes

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _reply(self, status: int, body: bytes, headers: Mapping[str, str] = {}) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _forward(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        with self.state.lock:
            number = len(self.state.seen) + 1
            fault = self.state.plan(number)
            self.state.seen.append(
                Seen(
                    number,
                    self.path,
                    body,
                    {k.lower(): v for k, v in self.headers.items()},
                    time.monotonic(),
                    fault,
                )
            )
        if fault == "429":
            self._reply(
                429,
                b'{"error": {"message": "injected: slow down", "code": 429}}',
                {"Retry-After": self.state.retry_after},
            )
            return
        if fault in ("500", "503"):
            self._reply(int(fault), b'{"error": {"message": "injected: server error"}}')
            return
        if fault == "stall":
            time.sleep(self.state.stall)
            self.close_connection = True
            return
        if fault == "reset":
            # SO_LINGER 0: close() sends RST instead of FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        counted = self.path.endswith("completions")
        if counted:
            with self.state.lock:
                self.state.in_flight += 1
                self.state.peak = max(self.state.peak, self.state.in_flight)
        try:
            status, payload = self._upstream(method, raw)
        finally:
            # Out of flight before the client can see the answer, so the proxy never counts
            # more requests in flight than the client has.
            if counted:
                with self.state.lock:
                    self.state.in_flight -= 1
        if fault == "one-choice" and status == 200:
            answer = json.loads(payload)
            answer["choices"] = answer["choices"][:1]
            payload = json.dumps(answer).encode()
        self._reply(status, payload)
        with self.state.lock:
            self.state.answered += 1

    def _upstream(self, method: str, raw: bytes) -> tuple[int, bytes]:
        if self.state.delay and self.path.endswith("completions"):
            time.sleep(self.state.delay)
        request = urllib.request.Request(
            self.state.upstream + self.path,
            data=raw if method == "POST" else None,
            method=method,
            headers={
                k: v
                for k, v in self.headers.items()
                if k.lower() in ("content-type", "authorization", "accept")
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                status, payload = int(response.status), response.read()
        except urllib.error.HTTPError as e:
            status, payload = e.code, e.read()
            e.close()
        return status, payload

    def do_POST(self) -> None:
        self._forward("POST")

    def do_GET(self) -> None:
        self._forward("GET")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    state: _State

    def handle_error(self, request: Any, client_address: Any) -> None:
        import traceback

        self.state.errors.append(traceback.format_exc())


class FaultInjectingProxy:
    """Forwards to ``upstream`` (a server root such as ``http://127.0.0.1:8000``), injecting the
    faults ``faults`` maps request numbers (1-based, in order of arrival) to.

    Args:
        upstream: Root URL of the real server.
        faults: Request number → ``"429"``, ``"500"``, ``"503"``, ``"reset"``, ``"stall"``
            or ``"one-choice"``; or a function
            of the request number returning one of those or None.
        retry_after: The ``Retry-After`` value sent with injected 429s.
        delay: Seconds to hold every forwarded completion request.
        stall: Seconds a ``"stall"`` holds its request before dropping it.

    Use it as a context manager; ``base_url`` is the proxy's ``/v1`` URL.
    """

    def __init__(
        self,
        upstream: str,
        faults: Mapping[int, str] | Callable[[int], str | None],
        *,
        retry_after: str = "1",
        delay: float = 0.0,
        stall: float = 5.0,
    ) -> None:
        plan = faults if callable(faults) else dict(faults).get
        self.state = _State(upstream.rstrip("/"), plan, retry_after, delay, stall)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.state = self.state
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        host, port = self._server.server_address[:2]
        self.root = f"http://{host!s}:{port}"
        self.base_url = self.root + "/v1"

    @property
    def seen(self) -> list[Seen]:
        """The requests received so far."""
        with self.state.lock:
            return list(self.state.seen)

    @property
    def peak(self) -> int:
        """The most completion requests it was forwarding at once."""
        with self.state.lock:
            return self.state.peak

    @property
    def answered(self) -> int:
        """Responses passed back so far."""
        with self.state.lock:
            return self.state.answered

    @property
    def errors(self) -> list[str]:
        """Tracebacks of failures inside the proxy (should stay empty)."""
        return list(self.state.errors)

    def __enter__(self) -> FaultInjectingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@contextmanager
def fault_proxy(
    upstream: str, faults: Mapping[int, str] | Callable[[int], str | None], **kwargs: Any
) -> Iterator[FaultInjectingProxy]:
    """``with fault_proxy(root, {1: "429"}) as proxy:`` — a started proxy."""
    with FaultInjectingProxy(upstream, faults, **kwargs) as proxy:
        yield proxy
