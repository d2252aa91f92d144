"""InstantFakeServer: a fake OpenAI-compatible server that answers at once, for measuring the
client itself (a real vLLM server is far slower than any client) and for behaviour a real
server will not show on demand (holding requests to count how many arrive at once, reporting
chosen ``/metrics``, finishing with "length" below a chosen limit).

It speaks just enough HTTP/1.1 (keep-alive, Content-Length bodies) on raw asyncio protocols so
that it costs little per request. ``/v1/chat/completions`` and ``/v1/completions`` answer with
``n`` choices; ``/metrics`` answers with :attr:`InstantFakeServer.metrics`.

Run it in a thread (``with InstantFakeServer() as server:``) or as its own process, which
prints its port and serves until killed::

    python tests/instant_fake_server.py [--port P]
"""

from __future__ import annotations

import argparse
import asyncio
import threading
from collections.abc import Callable
from typing import Any

import orjson

__all__ = ["InstantFakeServer"]

#: ``(request body, choice index) -> (text, finish_reason)``, or with a third item: the
#: reasoning, sent as ``reasoning_content`` (chat only).
Respond = Callable[[dict[str, Any], int], tuple[Any, ...]]


def _default_respond(body: dict[str, Any], index: int) -> tuple[str, str]:
    return f"answer {index}", "stop"


class InstantFakeServer:
    """The fake server.

    Args:
        respond: ``(request body, choice index) -> (text, finish_reason[, reasoning])``.
        hold_until: Hold every completion request until this many are pending (then answer
            them all), or until ``hold_seconds`` passed since the first one pending.
        hold_seconds: See ``hold_until``.
        port: Port to listen on (0: any free one).
        delay: Seconds before each completion is answered, as a function of the request body
            (a server that takes time without using this machine's CPU); 0 answers at once.

    Attributes:
        requests: Completion requests received.
        bodies: Their decoded bodies (only when ``keep_bodies``).
        max_pending: Most completion requests pending at one time.
        metrics: The text served at ``/metrics``.
    """

    def __init__(
        self,
        respond: Respond = _default_respond,
        *,
        hold_until: int = 0,
        hold_seconds: float = 10.0,
        port: int = 0,
        keep_bodies: bool = False,
        delay: Callable[[dict[str, Any]], float] | None = None,
    ) -> None:
        self.respond = respond
        self.hold_until = hold_until
        self.hold_seconds = hold_seconds
        self.port = port
        self.keep_bodies = keep_bodies
        self.delay = delay
        self.requests = 0
        self.bodies: list[dict[str, Any]] = []
        self.max_pending = 0
        self.metrics = ""
        self._pending: list[tuple[asyncio.Transport, bytes]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- HTTP ------------------------------------------------------------------------------

    def _answer(self, path: bytes, body: bytes) -> bytes:
        if path.endswith(b"/metrics"):
            return _response(self.metrics.encode(), b"text/plain; version=0.0.4")
        request = orjson.loads(body) if body else {}
        if self.keep_bodies:
            self.bodies.append(request)
        n = int(request.get("n") or 1)
        chat = path.endswith(b"/chat/completions")
        choices = []
        tokens = 0
        for i in range(n):
            text, finish, *reasoning = self.respond(request, i)
            tokens += len(text.split())
            choice: dict[str, Any] = {"index": i, "finish_reason": finish}
            if chat:
                choice["message"] = {"role": "assistant", "content": text}
                if reasoning:
                    choice["message"]["reasoning_content"] = reasoning[0]
            else:
                choice["text"] = text
            choices.append(choice)
        payload = {
            "id": "fake",
            "object": "chat.completion" if chat else "text_completion",
            "model": request.get("model", "fake"),
            "choices": choices,
            "usage": {
                "prompt_tokens": 10,
                "completion_tokens": tokens,
                "total_tokens": 10 + tokens,
            },
        }
        return _response(orjson.dumps(payload), b"application/json")

    def _request(self, transport: asyncio.Transport, path: bytes, body: bytes) -> None:
        answer = self._answer(path, body)
        if path.endswith(b"/metrics"):
            transport.write(answer)
            return
        self.requests += 1
        if self.delay is not None:
            assert self._loop is not None
            seconds = self.delay(orjson.loads(body) if body else {})
            self._loop.call_later(seconds, self._write, transport, answer)
            return
        if not self.hold_until:
            transport.write(answer)
            return
        self._pending.append((transport, answer))
        self.max_pending = max(self.max_pending, len(self._pending))
        if len(self._pending) >= self.hold_until:
            self._flush()
        elif len(self._pending) == 1:
            assert self._loop is not None
            self._loop.call_later(self.hold_seconds, self._flush)

    @staticmethod
    def _write(transport: asyncio.Transport, answer: bytes) -> None:
        if not transport.is_closing():
            transport.write(answer)

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        for transport, answer in pending:
            if not transport.is_closing():
                transport.write(answer)

    # -- running ---------------------------------------------------------------------------

    async def serve(self, on_ready: Callable[[int], None] | None = None) -> None:
        """Serves until cancelled."""
        self._loop = asyncio.get_running_loop()
        self._server = await self._loop.create_server(
            lambda: _Protocol(self), "127.0.0.1", self.port, backlog=4096
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        if on_ready is not None:
            on_ready(self.port)
        async with self._server:
            await self._server.serve_forever()

    def __enter__(self) -> InstantFakeServer:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake server did not start")
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self.serve(lambda _port: self._ready.set()))
        except asyncio.CancelledError:
            pass

    def __exit__(self, *exc: object) -> None:
        loop, server = self._loop, self._server
        if loop is not None and server is not None:

            def stop() -> None:
                server.close()
                for task in asyncio.all_tasks(loop):
                    task.cancel()

            loop.call_soon_threadsafe(stop)
        if self._thread is not None:
            self._thread.join(timeout=10)


def _response(body: bytes, content_type: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: "
        + content_type
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


class _Protocol(asyncio.Protocol):
    def __init__(self, server: InstantFakeServer) -> None:
        self.server = server
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            lower = head.lower()
            at = lower.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = lower.find(b"\r\n", at + 2)
                length = int(lower[at + 17 : stop if stop >= 0 else len(lower)])
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            body = self.buffer[end + 4 : total]
            self.buffer = self.buffer[total:]
            path = head.split(b" ", 2)[1]
            assert self.transport is not None
            self.server._request(self.transport, path, body)


def serve_until_interrupted(server: InstantFakeServer) -> None:
    """Runs ``server`` in this process, printing its port first, until interrupted."""
    try:
        asyncio.run(server.serve(lambda port: print(port, flush=True)))
    except KeyboardInterrupt:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    serve_until_interrupted(InstantFakeServer(port=args.port))


if __name__ == "__main__":
    main()
