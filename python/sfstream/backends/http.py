"""A small HTTP/1.1 client for the generate stage's hot path, on anyio (asyncio and trio).

Why not httpx: generation sends many small JSON requests, and httpx spends about 3 ms of CPU
on each (measured on the benchmark machine: ~300 requests/s from one process, against ~9,000
for a bare socket loop), so one process could not keep a fast server or several servers busy.
This client does only what the OpenAI-compatible APIs need: keep-alive connections per host,
``Content-Length`` and chunked bodies, TLS, a connect timeout and a whole-request timeout. It
has no connection cap of its own: the caller's in-flight limit is the only limit (vLLM #7241).

A kept-alive connection is checked before it is reused: if the server has closed it (uvicorn
does after 5 s idle) or sent anything unasked, it is dropped and the request goes out on a fresh
connection. A request is never sent twice by this client once it went out whole: if the
connection breaks after that, the server may already be generating, and the caller decides
(the generate stage retries with backoff and counts it). Connections idle longer than
``keepalive_expiry`` are not reused at all. Interim ``1xx`` answers are skipped. A response body
larger than ``max_body_bytes`` fails the request instead of filling memory.

When a proxy from the environment (``HTTP_PROXY``, ``HTTPS_PROXY`` or ``ALL_PROXY``, minus
``NO_PROXY``) applies to a URL, :class:`HttpxClient` (httpx, which speaks to proxies) takes its
place; see :func:`open_client`.
"""

from __future__ import annotations

import select
import ssl
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

__all__ = [
    "FastClient",
    "HttpClient",
    "HttpConnectError",
    "HttpError",
    "HttpResponse",
    "HttpTimeout",
    "HttpTransportError",
    "HttpxClient",
    "open_client",
]

MAX_HEADER_BYTES = 64 * 1024
#: Default cap on one response body (a chat completion with many long choices is a few MiB).
MAX_BODY_BYTES = 256 * 1024 * 1024


class HttpError(Exception):
    """A request failed without a response."""


class HttpConnectError(HttpError):
    """The connection could not be opened (refused, unknown host, TLS failure)."""


class HttpTimeout(HttpError):
    """The request took longer than its timeout."""


class HttpTransportError(HttpError):
    """The connection broke (reset, closed early, malformed answer)."""


@dataclass
class HttpResponse:
    """An answer: status, headers (lower-case names) and the whole body."""

    status_code: int
    headers: dict[str, str]
    content: bytes
    reason_phrase: str = ""

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


class HttpClient(Protocol):
    """What the generate stage needs from an HTTP client."""

    async def request(
        self,
        method: str,
        url: str,
        content: bytes | None = None,
        *,
        time_limit: float | None = None,
    ) -> HttpResponse: ...

    async def aclose(self) -> None: ...


@dataclass
class _Connection:
    stream: anyio.abc.ByteStream
    reader: BufferedByteReceiveStream
    idle_since: float = field(default_factory=time.monotonic)


class _Unsent(Exception):
    """The request could not be sent on a reused connection (safe to send again)."""


def _alive(conn: _Connection) -> bool:
    """Whether an idle kept-alive connection can carry a request: not closed or reset by the
    server and holding no unasked bytes (which would be read as the answer). Either of those
    makes the socket readable."""
    if conn.reader.buffer:
        return False
    sock = conn.stream.extra(anyio.abc.SocketAttribute.raw_socket, None)
    if sock is None:
        return True
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN | select.POLLPRI)
    return not poller.poll(0)


class FastClient:
    """Keep-alive HTTP/1.1 over anyio streams.

    Args:
        headers: Sent with every request.
        timeout: Seconds a whole request may take (connecting included).
        connect_timeout: Seconds opening a connection may take.
        keepalive_expiry: Idle connections older than this are closed, not reused.
        ssl_context: For https (default: the system's trust store, which honours
            ``SSL_CERT_FILE`` and ``SSL_CERT_DIR``).
        max_body_bytes: A larger response body fails the request (HttpTransportError).
    """

    def __init__(
        self,
        headers: Mapping[str, str],
        *,
        timeout: float,
        connect_timeout: float = 60.0,
        keepalive_expiry: float = 4.0,
        ssl_context: ssl.SSLContext | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.timeout = timeout
        self.max_body_bytes = max_body_bytes
        self.connect_timeout = connect_timeout
        self.keepalive_expiry = keepalive_expiry
        self._ssl = ssl_context
        self._headers = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._targets: dict[str, tuple[tuple[str, str, int], str, str]] = {}
        self.opened = 0  # connections opened so far

    def _target(self, url: str) -> tuple[tuple[str, str, int], str, str]:
        found = self._targets.get(url)
        if found is None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise HttpConnectError(f"unsupported URL {url!r}")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            default = port == (443 if parts.scheme == "https" else 80)
            host = parts.hostname if default else f"{parts.hostname}:{port}"
            if ":" in parts.hostname and not default:
                host = f"[{parts.hostname}]:{port}"
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            found = ((parts.scheme, parts.hostname, port), host, path)
            if len(self._targets) < 1024:
                self._targets[url] = found
        return found

    async def _connect(self, key: tuple[str, str, int]) -> _Connection:
        scheme, host, port = key
        try:
            with anyio.fail_after(self.connect_timeout):
                if scheme == "https":
                    if self._ssl is None:
                        self._ssl = ssl.create_default_context()
                    stream: anyio.abc.ByteStream = await anyio.connect_tcp(
                        host, port, tls=True, ssl_context=self._ssl, tls_standard_compatible=False
                    )
                else:
                    stream = await anyio.connect_tcp(host, port)
        except TimeoutError:
            raise HttpTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as e:
            raise HttpConnectError(f"{type(e).__name__}: {e}") from None
        self.opened += 1
        return _Connection(stream, BufferedByteReceiveStream(stream))

    async def _take_idle(self, key: tuple[str, str, int]) -> _Connection | None:
        pool = self._idle.get(key)
        now = time.monotonic()
        while pool:
            conn = pool.pop()
            if now - conn.idle_since < self.keepalive_expiry and _alive(conn):
                return conn
            await anyio.aclose_forcefully(conn.stream)
        return None

    async def request(
        self,
        method: str,
        url: str,
        content: bytes | None = None,
        *,
        time_limit: float | None = None,
    ) -> HttpResponse:
        """Sends one request and reads the whole answer.

        Raises:
            HttpConnectError: the connection could not be opened.
            HttpTimeout: the request took longer than ``time_limit`` (default: the client's
                timeout).
            HttpTransportError: the connection broke or the answer was malformed.
        """
        key, host, path = self._target(url)
        body = content or b""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{self._headers}"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1")
        try:
            with anyio.fail_after(self.timeout if time_limit is None else time_limit):
                conn = await self._take_idle(key)
                if conn is not None:
                    try:
                        return await self._exchange(key, conn, head + body)
                    except _Unsent:
                        pass  # the kept-alive connection died before the request went out
                conn = await self._connect(key)
                try:
                    return await self._exchange(key, conn, head + body)
                except _Unsent:
                    raise HttpTransportError(
                        "the connection broke while sending the request"
                    ) from None
        except TimeoutError:
            raise HttpTimeout(
                f"no complete answer within {time_limit or self.timeout:g} s"
            ) from None

    async def _exchange(
        self, key: tuple[str, str, int], conn: _Connection, data: bytes
    ) -> HttpResponse:
        reusable = False
        try:
            try:
                await conn.stream.send(data)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                raise _Unsent() from None
            while True:
                head = await conn.reader.receive_until(b"\r\n\r\n", MAX_HEADER_BYTES)
                if not _interim(head):
                    break
            response, reusable = await self._read(conn, head)
            return response
        except (
            anyio.EndOfStream,
            anyio.IncompleteRead,
            anyio.BrokenResourceError,
            anyio.DelimiterNotFound,
            OSError,
            ValueError,
        ) as e:
            raise HttpTransportError(f"{type(e).__name__}: {e}".rstrip(": ")) from None
        finally:
            if reusable:
                conn.idle_since = time.monotonic()
                self._idle.setdefault(key, []).append(conn)
            else:
                # Forcefully: this also runs when the request was cancelled.
                await anyio.aclose_forcefully(conn.stream)

    async def _read(self, conn: _Connection, head: bytes) -> tuple[HttpResponse, bool]:
        lines = head.decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code, _, reason = rest.partition(" ")
        status = int(code)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        if status in (204, 304) or 100 <= status < 200:
            return HttpResponse(status, headers, b"", reason), keep
        cap = self.max_body_bytes
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parts = []
            total = 0
            while True:
                size_line = await conn.reader.receive_until(b"\r\n", 1024)
                size = int(size_line.split(b";", 1)[0], 16)
                if size == 0:
                    while await conn.reader.receive_until(b"\r\n", MAX_HEADER_BYTES):
                        pass  # trailers
                    break
                total += size
                if total > cap:
                    raise _too_large(cap)
                parts.append(await conn.reader.receive_exactly(size))
                await conn.reader.receive_exactly(2)
            return HttpResponse(status, headers, b"".join(parts), reason), keep
        length = headers.get("content-length")
        if length is not None:
            n = int(length)
            if n > cap:
                raise _too_large(cap)
            content = await conn.reader.receive_exactly(n) if n else b""
            return HttpResponse(status, headers, content, reason), keep
        # No length: the body runs until the server closes the connection.
        chunks = [conn.reader.buffer]
        total = len(chunks[0])
        try:
            while total <= cap:
                chunk = await conn.stream.receive()
                total += len(chunk)
                chunks.append(chunk)
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            pass
        if total > cap:
            raise _too_large(cap)
        return HttpResponse(status, headers, b"".join(chunks), reason), False

    async def aclose(self) -> None:
        """Closes every idle connection."""
        pools, self._idle = self._idle, {}
        for pool in pools.values():
            for conn in pool:
                await anyio.aclose_forcefully(conn.stream)


def _interim(head: bytes) -> bool:
    """Whether a response head is an interim 1xx answer (100 Continue, 103 Early Hints), which
    a final answer follows on the same connection. 101 (switching protocols) is final."""
    _, _, rest = head.partition(b" ")
    return rest[:1] == b"1" and rest[:3] != b"101"


def _too_large(cap: int) -> HttpTransportError:
    return HttpTransportError(f"the response body exceeds {cap} bytes")


class HttpxClient:
    """The same interface over httpx, for servers behind an HTTP(S) proxy."""

    def __init__(
        self,
        headers: Mapping[str, str],
        *,
        timeout: float,
        connect_timeout: float,
        max_body_bytes: int = MAX_BODY_BYTES,
    ):
        import httpx

        self._httpx = httpx
        self.max_body_bytes = max_body_bytes
        try:
            self._client = httpx.AsyncClient(
                headers=dict(headers),
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=None),
                timeout=httpx.Timeout(timeout, connect=connect_timeout),
            )
        except ImportError as e:  # a socks:// proxy without httpx's socks extra
            raise HttpConnectError(
                f"the proxy from the environment needs a package that is not installed ({e}); "
                "install httpx[socks] for a SOCKS proxy"
            ) from None

    async def request(
        self,
        method: str,
        url: str,
        content: bytes | None = None,
        *,
        time_limit: float | None = None,
    ) -> HttpResponse:
        httpx = self._httpx
        try:
            kwargs: dict[str, Any] = {"content": content}
            if time_limit is not None:
                kwargs["timeout"] = time_limit
            async with self._client.stream(method, url, **kwargs) as r:
                chunks = []
                total = 0
                declared = r.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_body_bytes:
                    raise _too_large(self.max_body_bytes)
                # Read to the end (stopping early leaves httpx's stream generators open), but
                # keep nothing past the cap.
                async for chunk in r.aiter_bytes():
                    total += len(chunk)
                    if total <= self.max_body_bytes:
                        chunks.append(chunk)
            if total > self.max_body_bytes:
                raise _too_large(self.max_body_bytes)
        except httpx.ConnectError as e:
            raise HttpConnectError(f"{type(e).__name__}: {e}") from None
        except httpx.TimeoutException as e:
            raise HttpTimeout(f"{type(e).__name__}: {e}") from None
        except httpx.TransportError as e:
            raise HttpTransportError(f"{type(e).__name__}: {e}") from None
        return HttpResponse(
            r.status_code,
            {k.lower(): v for k, v in r.headers.items()},
            b"".join(chunks),
            r.reason_phrase,
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def _proxied(url: str) -> bool:
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    if parts.scheme not in proxies and "all" not in proxies:
        return False
    return not urllib.request.proxy_bypass(parts.hostname or "")


def open_client(
    urls: tuple[str, ...], headers: Mapping[str, str], *, timeout: float, connect_timeout: float
) -> HttpClient:
    """The client for ``urls``: :class:`FastClient`, or :class:`HttpxClient` when a proxy
    from the environment applies to one of them."""
    if any(_proxied(u) for u in urls):
        return HttpxClient(headers, timeout=timeout, connect_timeout=connect_timeout)
    return FastClient(headers, timeout=timeout, connect_timeout=connect_timeout)
