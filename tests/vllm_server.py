"""Pytest plugin: one real vLLM server (CPU) for the whole test session.

The ``vllm_server`` fixture builds the vLLM environment (``scripts/setup-vllm.sh``, idempotent),
builds the tiny random Llama once into a cache directory (``scripts/make_tiny_model.py``;
rebuilt when missing or when the script changes), starts ``vllm.entrypoints.openai.api_server``
on a free port with its log in a file, waits for ``/health``, and stops the server (and the
engine processes it spawned) at the end of the session.

Environment:
    SFSTREAM_TINY_MODEL_DIR: where the tiny model is cached (default
        ``~/.cache/sfstream/tiny-llama``).
    SFSTREAM_VLLM_START_TIMEOUT: seconds to wait for the server to become healthy (300).
    SFSTREAM_VLLM_LOG: path of the server log (default: the session's temporary directory).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETUP_SCRIPT = ROOT / "scripts" / "setup-vllm.sh"
MODEL_SCRIPT = ROOT / "scripts" / "make_tiny_model.py"
SERVED_NAME = "tiny-llama"
MAX_MODEL_LEN = 2048
STOP_GRACE = 20.0


@dataclass(frozen=True)
class VllmServer:
    """A running vLLM server.

    Attributes:
        root: ``http://127.0.0.1:PORT``.
        base_url: The OpenAI API base, ``root + "/v1"``.
        model: The served model name.
        max_model_len: The context length the server was started with.
        log: The server's log file.
        startup_seconds: Time from launch until ``/health`` answered.
        pid: The server process id.
        model_dir: The model's directory (its tokenizer and chat template too).
    """

    root: str
    base_url: str
    model: str
    max_model_len: int
    log: Path
    startup_seconds: float
    pid: int
    model_dir: Path | None = None

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server log."""
        return _tail(self.log, lines)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "<no log>"
    return "\n".join(text.splitlines()[-lines:])


def _vllm_python() -> Path:
    proc = subprocess.run(
        ["bash", str(SETUP_SCRIPT)], capture_output=True, text=True, timeout=3600, check=False
    )
    if proc.returncode != 0:
        pytest.fail(f"scripts/setup-vllm.sh failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    lines = proc.stdout.strip().splitlines()
    if not lines or not Path(lines[-1]).is_file():
        pytest.fail(f"scripts/setup-vllm.sh printed no python path:\n{proc.stdout[-2000:]}")
    return Path(lines[-1])


def _tiny_model(python: Path) -> Path:
    target = Path(
        os.environ.get("SFSTREAM_TINY_MODEL_DIR")
        or Path.home() / ".cache" / "sfstream" / "tiny-llama"
    )
    stamp = hashlib.sha256(MODEL_SCRIPT.read_bytes()).hexdigest()
    stamp_file = target / ".sfstream-script-sha256"
    if (
        (target / "model.safetensors").is_file()
        and stamp_file.is_file()
        and stamp_file.read_text().strip() == stamp
    ):
        return target
    # Build beside the target and rename, so an interrupted build never looks finished.
    target.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix="tiny-llama-", dir=target.parent))
    try:
        proc = subprocess.run(
            [str(python), str(MODEL_SCRIPT), str(build)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
        )
        if proc.returncode != 0:
            pytest.fail(f"make_tiny_model.py failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        (build / stamp_file.name).write_text(stamp + "\n")
        if target.exists():
            shutil.rmtree(target)
        build.rename(target)
    finally:
        if build.exists():
            shutil.rmtree(build, ignore_errors=True)
    return target


@contextlib.contextmanager
def start_vllm(
    model_dir: Path, python: Path, log: Path, startup_timeout: float = 300.0
) -> Iterator[VllmServer]:
    """Runs a vLLM OpenAI server on ``model_dir`` until the block exits, through sfstream's
    own ``serve`` code (so every vLLM test also exercises it)."""
    from sfstream.serve import ServeConfig, ServerError, start_server

    config = ServeConfig(
        model=str(model_dir),
        served_model_name=SERVED_NAME,
        max_model_len=MAX_MODEL_LEN,
        extra_args=("--dtype", "float32"),
        python=str(python),
        env={
            "VLLM_CPU_KVCACHE_SPACE": "1",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1",
        },
        log=log,
        startup_timeout=startup_timeout,
        stop_grace=STOP_GRACE,
    )
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        server_cm = start_server(config)
        server = server_cm.__enter__()
    except ServerError as e:
        pytest.fail(f"{e}\n(log {log})")
    try:
        yield VllmServer(
            root=server.root,
            base_url=server.base_url,
            model=server.model,
            max_model_len=MAX_MODEL_LEN,
            log=log,
            startup_seconds=server.startup_seconds,
            pid=server.pid,
            model_dir=model_dir,
        )
    finally:
        server_cm.__exit__(None, None, None)


_STARTUP = pytest.StashKey[str]()


@pytest.fixture(scope="session")
def vllm_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VllmServer]:
    """The session's real vLLM server serving the tiny random Llama as ``tiny-llama``."""
    python = _vllm_python()
    model_dir = _tiny_model(python)
    log = Path(
        os.environ.get("SFSTREAM_VLLM_LOG") or tmp_path_factory.mktemp("vllm") / "server.log"
    )
    timeout = float(os.environ.get("SFSTREAM_VLLM_START_TIMEOUT", "300"))
    with start_vllm(model_dir, python, log, timeout) as server:
        request.config.stash[_STARTUP] = (
            f"vLLM server: healthy {server.startup_seconds:.1f} s after launch (log {log})"
        )
        yield server


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Gives the test that starts the session's server (and the one that stops it) the time
    that takes on top of its own timeout (pytest-timeout counts fixture setup and teardown)."""
    if "vllm_server" in getattr(item, "fixturenames", ()):
        extra = 0.0
        if _STARTUP not in item.config.stash:
            extra += float(os.environ.get("SFSTREAM_VLLM_START_TIMEOUT", "300")) + 600.0
        if nextitem is None:  # session fixtures are torn down after the last test
            extra += STOP_GRACE + 30.0
        marker = item.get_closest_marker("timeout")
        own = None
        if marker is not None:
            own = marker.args[0] if marker.args else marker.kwargs.get("timeout")
        if own is None:
            try:
                own = item.config.getini("timeout")
            except ValueError:  # pytest-timeout not installed
                own = 0
        base = float(own or 0)
        if extra and base > 0:
            item.add_marker(pytest.mark.timeout(base + extra), append=False)
    yield


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Says how long the vLLM server took to start, when one was started."""
    note = terminalreporter.config.stash.get(_STARTUP, None)
    if note:
        terminalreporter.write_line(note)
