"""The generate stage over HTTPS: a local TLS server (Python's own HTTP server behind a
certificate generated for the test) that answers the chat completions endpoint.

The client finds the test's certificate authority through ``SSL_CERT_FILE``, as a user with a
private CA would; a certificate it does not trust fails the connection with a clear message.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sfstream import GenerateConfig, generate
from sfstream.backends.http import FastClient, HttpConnectError
from sfstream.records import Problem

trustme = pytest.importorskip("trustme")


class ChatHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        n = body.get("n", 1)
        answer = {
            "id": "x",
            "object": "chat.completion",
            "model": body["model"],
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": f"tls answer {i}"},
                    "finish_reason": "stop",
                }
                for i in range(n)
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
        }
        data = json.dumps(answer).encode()
        self.server.requests += 1  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def ca() -> Any:
    return trustme.CA()


@pytest.fixture
def tls_server(ca: Any) -> Iterator[tuple[str, ThreadingHTTPServer]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ChatHandler)
    server.requests = 0  # type: ignore[attr-defined]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/v1", server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def ca_file(ca: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.mark.anyio
async def test_https_keep_alive_with_a_trusted_certificate(
    tls_server: tuple[str, ThreadingHTTPServer], ca_file: Path
) -> None:
    url, server = tls_server
    client = FastClient({}, timeout=10)
    body = json.dumps({"model": "m", "messages": [], "n": 2}).encode()
    answers = [await client.request("POST", url + "/chat/completions", body) for _ in range(3)]
    await client.aclose()
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert json.loads(answers[2].content)["choices"][1]["message"]["content"] == "tls answer 1"
    # One TLS connection carried all three requests.
    assert client.opened == 1 and server.requests == 3  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_https_untrusted_certificate_fails_clearly(
    tls_server: tuple[str, ThreadingHTTPServer], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url, _ = tls_server
    other = trustme.CA()
    path = tmp_path / "other.pem"
    other.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    client = FastClient({}, timeout=10)
    with pytest.raises(HttpConnectError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify"):
        await client.request("POST", url + "/chat/completions", b"{}")
    await client.aclose()


@pytest.mark.anyio
async def test_generate_stage_over_https(
    tls_server: tuple[str, ThreadingHTTPServer], ca_file: Path
) -> None:
    url, server = tls_server
    problems = [
        Problem.from_dict(
            {"id": f"p{i}", "domain": "math", "source": "local", "problem": "1+1?", "answer": "2"}
        )
        for i in range(4)
    ]

    async def feed() -> Any:
        for p in problems:
            yield p

    config = GenerateConfig(base_url=url, model="m", n=2, max_retries=0)
    samples = [s async for s in generate(feed(), config)]
    assert sorted((s.id, s.sample_index) for s in samples) == [
        (f"p{i}", k) for i in range(4) for k in range(2)
    ]
    assert {s.completion for s in samples} == {"tls answer 0", "tls answer 1"}
    assert server.requests == 4  # type: ignore[attr-defined]
