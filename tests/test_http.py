"""The generate stage's HTTP/1.1 client against scripted raw-socket servers (each answer shape
written byte by byte: chunked, close-delimited, a keep-alive connection the server drops)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import anyio
import pytest
from sfstream.backends.http import (
    FastClient,
    HttpConnectError,
    HttpTimeout,
    HttpTransportError,
    HttpxClient,
    open_client,
)

Script = Callable[[socket.socket, int], None]


def read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += conn.recv(65536)
    return head


@contextmanager
def scripted(script: Script) -> Iterator[str]:
    """A server that runs ``script(connection, number)`` for each connection it accepts."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        number = 0
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            number += 1
            threading.Thread(target=_run, args=(script, conn, number), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/v1/x"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def _run(script: Script, conn: socket.socket, number: int) -> None:
    try:
        script(conn, number)
    except OSError:
        pass
    finally:
        conn.close()


@pytest.mark.anyio
async def test_keep_alive_and_chunked() -> None:
    def script(conn: socket.socket, number: int) -> None:
        assert read_request(conn).startswith(b"POST /v1/x HTTP/1.1\r\nHost: 127.0.0.1:")
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        read_request(conn)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-Trailer: 1\r\n\r\n"
        )
        read_request(conn)
        conn.sendall(b"HTTP/1.1 429 Too Many\r\nRetry-After: 3\r\nContent-Length: 0\r\n\r\n")

    client = FastClient({"X-Test": "1"}, timeout=5)
    with scripted(script) as url:
        first = await client.request("POST", url, b'{"a": 1}')
        second = await client.request("POST", url, b"{}")
        third = await client.request("POST", url, b"{}")
    await client.aclose()
    assert (first.status_code, first.content) == (200, b"hello")
    assert second.content == b"abcdefg"
    assert third.status_code == 429 and third.headers["retry-after"] == "3"
    assert client.opened == 1


@pytest.mark.anyio
async def test_dropped_idle_connection_is_replaced() -> None:
    def script(conn: socket.socket, number: int) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        if number == 1:
            return  # closes the kept-alive connection, as an idle timeout would
        read_request(conn)

    client = FastClient({}, timeout=5)
    with scripted(script) as url:
        await client.request("POST", url, b"{}")
        await anyio.sleep(0.1)
        again = await client.request("POST", url, b"{}")
    await client.aclose()
    assert again.content == b"ok" and client.opened == 2


@pytest.mark.anyio
async def test_close_delimited_body_and_failures() -> None:
    def script(conn: socket.socket, number: int) -> None:
        read_request(conn)
        if number == 1:
            conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nuntil the end")
        elif number == 2:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
        elif number == 3:
            time.sleep(2)  # never answers in time

    client = FastClient({}, timeout=5)
    with scripted(script) as url:
        body = await client.request("GET", url)
        with pytest.raises(HttpTransportError):
            await client.request("GET", url)
        with pytest.raises(HttpTimeout):
            await client.request("GET", url, time_limit=0.3)
    await client.aclose()
    assert body.content == b"until the end"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(HttpConnectError):
        await client.request("GET", f"http://127.0.0.1:{port}/")


@pytest.mark.anyio
async def test_proxy_from_the_environment_selects_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    urls = ("http://10.1.2.3:8000/v1",)
    assert isinstance(open_client(urls, {}, timeout=5, connect_timeout=5), FastClient)
    monkeypatch.setenv("http_proxy", "http://proxy.invalid:3128")
    chosen = open_client(urls, {}, timeout=5, connect_timeout=5)
    assert isinstance(chosen, HttpxClient)
    await chosen.aclose()
    monkeypatch.setenv("no_proxy", "10.1.2.3")
    assert isinstance(open_client(urls, {}, timeout=5, connect_timeout=5), FastClient)

    # The httpx adapter answers like the fast client.
    def script(conn: socket.socket, number: int) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 503 Busy\r\nRetry-After: 2\r\nContent-Length: 4\r\n\r\nbusy")

    monkeypatch.delenv("http_proxy")
    client = HttpxClient({"X-A": "1"}, timeout=5, connect_timeout=5)
    with scripted(script) as url:
        response = await client.request("POST", url, b"{}")
    await client.aclose()
    assert (response.status_code, response.headers["retry-after"], response.text) == (
        503,
        "2",
        "busy",
    )


@pytest.mark.anyio
async def test_interim_1xx_answers_are_skipped() -> None:
    def script(conn: socket.socket, number: int) -> None:
        read_request(conn)
        conn.sendall(
            b"HTTP/1.1 100 Continue\r\n\r\n"
            b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal"
        )
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext")

    client = FastClient({}, timeout=5)
    with scripted(script) as url:
        first = await client.request("POST", url, b"{}")
        second = await client.request("POST", url, b"{}")
    await client.aclose()
    assert (first.status_code, first.content) == (200, b"final")
    assert second.content == b"next" and client.opened == 1


@pytest.mark.anyio
async def test_a_request_that_went_out_is_not_sent_again() -> None:
    """The server read the request on a reused connection, then the connection broke before
    any answer: the server may be generating already, so the client reports the failure
    instead of sending the request a second time."""
    received: list[int] = []

    def script(conn: socket.socket, number: int) -> None:
        read_request(conn)
        received.append(number)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        read_request(conn)
        received.append(number)
        # Reset instead of answering (as a crashed worker would).
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    client = FastClient({}, timeout=5)
    with scripted(script) as url:
        await client.request("POST", url, b"{}")
        with pytest.raises(HttpTransportError):
            await client.request("POST", url, b"{}")
        await anyio.sleep(0.1)
    await client.aclose()
    assert received == [1, 1] and client.opened == 1


@pytest.mark.anyio
async def test_response_bodies_are_capped() -> None:
    def script(conn: socket.socket, number: int) -> None:
        read_request(conn)
        if number == 1:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n" + b"x" * 4096)
        elif number == 2:
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(8):
                conn.sendall(b"200\r\n" + b"y" * 512 + b"\r\n")
            conn.sendall(b"0\r\n\r\n")
        elif number == 3:
            conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + b"z" * 4096)
        else:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"w" * 1000)

    client = FastClient({}, timeout=5, max_body_bytes=1024)
    with scripted(script) as url:
        for _ in range(3):
            with pytest.raises(HttpTransportError, match="exceeds 1024 bytes"):
                await client.request("GET", url)
        within = await client.request("GET", url)
    await client.aclose()
    assert within.content == b"w" * 1000

    def big(conn: socket.socket, number: int) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n" + b"x" * 4096)

    httpx_client = HttpxClient({}, timeout=5, connect_timeout=5, max_body_bytes=1024)
    with scripted(big) as url:
        with pytest.raises(HttpTransportError, match="exceeds 1024 bytes"):
            await httpx_client.request("GET", url)
    await httpx_client.aclose()


@pytest.mark.anyio
async def test_all_proxy_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    """ALL_PROXY alone routes requests through the proxy (which here records the absolute-form
    request line a proxy receives, and answers)."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    lines: list[bytes] = []

    def proxy(conn: socket.socket, number: int) -> None:
        lines.append(read_request(conn).split(b"\r\n", 1)[0])
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nproxied")

    with scripted(proxy) as proxy_url:
        monkeypatch.setenv("ALL_PROXY", proxy_url.rsplit("/v1", 1)[0])
        target = "http://10.1.2.3:8000/v1/chat/completions"
        client = open_client((target,), {}, timeout=5, connect_timeout=5)
        assert isinstance(client, HttpxClient)
        response = await client.request("POST", target, b"{}")
        await client.aclose()
    assert response.content == b"proxied"
    assert lines == [b"POST http://10.1.2.3:8000/v1/chat/completions HTTP/1.1"]
    monkeypatch.setenv("NO_PROXY", "10.1.2.3")
    assert isinstance(open_client((target,), {}, timeout=5, connect_timeout=5), FastClient)
