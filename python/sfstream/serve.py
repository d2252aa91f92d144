"""``sfstream serve``: start a vLLM OpenAI-compatible server, wait until it is healthy, and
stop it (its whole process group) when done.

The server runs as ``PYTHON -m vllm.entrypoints.openai.api_server`` in a new process group,
so the engine processes it spawns are stopped with it: SIGTERM to the group, SIGKILL after a
grace period. The group's leader is a small watcher that starts the server and reads a pipe
from sfstream: when sfstream dies without stopping it (``kill -9``), the pipe ends and the
watcher stops the group the same way, so no server is left holding its GPUs. ``PYTHON`` is
``--python``, else ``$SFSTREAM_VLLM_PYTHON``, else the interpreter running sfstream.

Example:
    >>> with start_server(ServeConfig(model="Qwen/Qwen2.5-7B-Instruct")) as server:
    ...     print(server.base_url)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sfstream.errors import ConfigError, SfstreamError

__all__ = ["PYTHON_ENV", "RunningServer", "ServeConfig", "server_command", "start_server"]

#: Environment variable naming a python that has vLLM installed.
PYTHON_ENV = "SFSTREAM_VLLM_PYTHON"


#: The process group's leader: runs the server command (its arguments after the grace
#: period) and exits with its status. SIGTERM or SIGINT to it is passed to the whole group;
#: when its standard input ends (whoever started it is gone) it stops the whole group: SIGTERM,
#: then SIGKILL after the grace period.
WATCHER = """
import os, signal, subprocess, sys, threading, time
forwarded = False
def group(signum, frame=None):
    global forwarded
    if not forwarded:
        forwarded = True
        os.killpg(0, signal.SIGTERM)
signal.signal(signal.SIGTERM, group)
signal.signal(signal.SIGINT, group)
server = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL)
def watch():
    while os.read(0, 65536):
        pass
    group(signal.SIGTERM)
    deadline = time.monotonic() + float(sys.argv[1])
    while server.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(0, signal.SIGKILL)
threading.Thread(target=watch, daemon=True).start()
code = server.wait()
sys.exit(128 - code if code < 0 else code)
"""


class ServerError(SfstreamError):
    """The server exited while starting, or did not become healthy in time."""


@dataclass(frozen=True, kw_only=True)
class ServeConfig:
    """How to start the server.

    Attributes:
        model: Hugging Face id or local directory of the model.
        served_model_name: Name clients use (default: ``model``).
        host: Address to listen on.
        port: Port (0: a free one).
        tensor_parallel_size: GPUs one model is split over.
        quantization: vLLM's ``--quantization`` (awq, gptq, fp8, ...).
        max_model_len: Context length.
        extra_args: Further vLLM arguments, passed as they are.
        python: Interpreter with vLLM (default ``$SFSTREAM_VLLM_PYTHON``, else this one).
        env: Extra environment variables for the server.
        log: File receiving the server's output (default: inherit stderr).
        startup_timeout: Seconds to wait for ``/health``.
        stop_grace: Seconds between SIGTERM and SIGKILL when stopping.
    """

    model: str
    served_model_name: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    tensor_parallel_size: int | None = None
    quantization: str | None = None
    max_model_len: int | None = None
    extra_args: tuple[str, ...] = ()
    python: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    log: Path | None = None
    startup_timeout: float = 600.0
    stop_grace: float = 20.0

    def interpreter(self) -> str:
        return self.python or os.environ.get(PYTHON_ENV) or sys.executable

    @property
    def name(self) -> str:
        return self.served_model_name or self.model


@dataclass(frozen=True)
class RunningServer:
    """A healthy server.

    Attributes:
        root: ``http://HOST:PORT``.
        base_url: The OpenAI API base (``root + "/v1"``).
        model: The served model name.
        pid: The id of the server's process group (its leader stops the whole group on SIGTERM).
        startup_seconds: From launch until ``/health`` answered.
    """

    root: str
    base_url: str
    model: str
    pid: int
    startup_seconds: float


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def server_command(config: ServeConfig, port: int) -> list[str]:
    """The command line that starts the server on ``port``."""
    cmd = [
        config.interpreter(),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        config.model,
        "--served-model-name",
        config.name,
        "--host",
        config.host,
        "--port",
        str(port),
    ]
    if config.tensor_parallel_size is not None:
        cmd += ["--tensor-parallel-size", str(config.tensor_parallel_size)]
    if config.quantization is not None:
        cmd += ["--quantization", config.quantization]
    if config.max_model_len is not None:
        cmd += ["--max-model-len", str(config.max_model_len)]
    return cmd + list(config.extra_args)


def healthy(root: str) -> bool:
    """True when ``root/health`` answers 200."""
    try:
        with urllib.request.urlopen(root + "/health", timeout=2) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def stop_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM to the process group, SIGKILL after ``grace`` seconds, then SIGKILL to what is
    left of the group."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.stdin is not None:
        proc.stdin.close()


def _tail(path: Path | None, lines: int = 30) -> str:
    if path is None:
        return ""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n" + "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def start_server(config: ServeConfig) -> Iterator[RunningServer]:
    """Starts the server, waits for ``/health`` and yields it; stops it when the block exits.

    Raises:
        ConfigError: the interpreter cannot be started.
        ServerError: the server exited while starting or was not healthy in time.
    """
    port = config.port or free_port(config.host)
    host = "127.0.0.1" if config.host in ("0.0.0.0", "::") else config.host
    root = f"http://{host}:{port}"
    cmd = server_command(config, port)
    env = {**os.environ, **config.env}
    started = time.monotonic()
    out = open(config.log, "wb") if config.log is not None else None
    try:
        # The write end of the watcher's stdin stays open in this process only (it is not
        # inheritable), until the server is stopped or this process dies.
        proc = subprocess.Popen(
            [sys.executable, "-c", WATCHER, str(config.stop_grace), *cmd],
            stdout=out if out is not None else sys.stderr,
            stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
    except OSError as e:
        raise ConfigError(f"cannot start {cmd[0]}: {e.strerror or e}") from None
    finally:
        if out is not None:
            out.close()
    try:
        deadline = started + config.startup_timeout
        while not healthy(root):
            code = proc.poll()
            if code is not None:
                raise ServerError(
                    f"vLLM server exited with {code} while starting "
                    f"({' '.join(cmd[:3])}){_tail(config.log)}"
                )
            if time.monotonic() > deadline:
                raise ServerError(
                    f"vLLM server not healthy after {config.startup_timeout:.0f} s"
                    f"{_tail(config.log)}"
                )
            time.sleep(0.5)
        yield RunningServer(
            root=root,
            base_url=root + "/v1",
            model=config.name,
            pid=proc.pid,
            startup_seconds=time.monotonic() - started,
        )
    finally:
        stop_group(proc, config.stop_grace)


def serve_forever(config: ServeConfig, announce: Sequence[str] = ()) -> int:
    """``sfstream serve``: start, print the URL on stdout, and wait for Ctrl-C or SIGTERM (or
    the server's own exit). Returns the exit status."""
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    old = signal.signal(signal.SIGTERM, on_signal)
    try:
        with start_server(config) as server:
            print(server.base_url, flush=True)
            for line in announce:
                print(line, file=sys.stderr)
            print(
                f"sfstream serve: {server.model} healthy after {server.startup_seconds:.1f} s "
                f"at {server.base_url} (pid {server.pid}); Ctrl-C stops it",
                file=sys.stderr,
                flush=True,
            )
            try:
                while not stop and healthy(server.root):
                    time.sleep(1.0)
            except KeyboardInterrupt:
                stop = True
            if not stop:
                print("sfstream serve: the server stopped answering /health", file=sys.stderr)
                return 1
            print("sfstream serve: stopping", file=sys.stderr)
    finally:
        signal.signal(signal.SIGTERM, old)
    return 0
