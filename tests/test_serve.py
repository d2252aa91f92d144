"""``sfstream serve`` and ``sfstream run --serve``.

The test run's real vLLM server is itself started through :func:`sfstream.serve.start_server`
(see ``vllm_server.py``), so every vLLM-backed test runs that code. The tests here check what
one vLLM server per test run cannot: the command line built from the flags, and starting,
health-waiting and stopping a whole process group from the command, with a stand-in module
named ``vllm.entrypoints.openai.api_server`` (an instant local OpenAI-compatible server that
also starts a child process, as vLLM's engine does).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest
from sfstream.serve import ServeConfig, server_command

ROOT = Path(__file__).resolve().parent
SFSTREAM = [sys.executable, "-m", "sfstream"]

STAND_IN = """
import argparse, os, subprocess, sys, time
sys.path.insert(0, {tests!r})
from instant_fake_server import InstantFakeServer
import asyncio

p = argparse.ArgumentParser()
p.add_argument("--model"); p.add_argument("--served-model-name"); p.add_argument("--host")
p.add_argument("--port", type=int); p.add_argument("--max-model-len")
p.add_argument("--tensor-parallel-size"); p.add_argument("--quantization")
args, extra = p.parse_known_args()
engine = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
with open(os.environ["STAND_IN_RECORD"], "w") as f:
    f.write(" ".join(sys.argv[1:]) + "\\n" + str(engine.pid) + "\\n")
delay = float(os.environ.get("STAND_IN_DELAY", "0"))


def respond(body, index):
    time.sleep(delay)
    return "answer " + str(index), "stop"


server = InstantFakeServer(respond, port=args.port)
asyncio.run(server.serve())
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@contextmanager
def _run_serve_generating(
    env: dict[str, str], out: Path
) -> Iterator[tuple[subprocess.Popen[bytes], list[str]]]:
    """``sfstream run --serve`` on 20 slow problems, yielded once its journal holds two
    answers (the process and its arguments); killed at the end if still running."""
    args = [*SFSTREAM, "run", "sample", "--limit", "20", "--serve", "served", "--concurrency"]
    args += ["1", "-q", "--out", str(out)]
    journal = out / "generate.journal"
    with subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        # faulthandler: a run that does not stop can be made to print every thread's stack.
        env={**env, "STAND_IN_DELAY": "0.2", "PYTHONFAULTHANDLER": "1"},
    ) as proc:
        try:
            deadline = time.monotonic() + 120
            while not (journal.exists() and journal.read_bytes().count(b"\n") >= 2):
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.01)
            yield proc, args
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _stderr_once_stopped(proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    """The stderr of ``proc`` once it exited; if it does not within ``timeout`` seconds, the
    test fails with every thread's Python stack (SIGABRT, with faulthandler on)."""
    try:
        return proc.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        err = proc.communicate(timeout=60)[1].decode(errors="replace")
        pytest.fail(f"still running {timeout:.0f} s after the signal; its threads:\n{err[-30000:]}")


def _gone(*pids: int) -> bool:
    """Waits up to 60 s for ``pids`` to end; whether they did."""
    deadline = time.monotonic() + 60
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(_alive(p) for p in pids)


@pytest.fixture
def stand_in(tmp_path: Path) -> tuple[dict[str, str], Path]:
    package = tmp_path / "standin" / "vllm" / "entrypoints" / "openai"
    package.mkdir(parents=True)
    for folder in (package, package.parent, package.parent.parent):
        (folder / "__init__.py").write_text("")
    (package / "api_server.py").write_text(STAND_IN.format(tests=str(ROOT)))
    record = tmp_path / "record.txt"
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path / "standin"),
        "STAND_IN_RECORD": str(record),
        "SFSTREAM_VLLM_PYTHON": sys.executable,
    }
    return env, record


def test_server_command_carries_the_flags() -> None:
    config = ServeConfig(
        model="Qwen/Qwen2.5-7B-Instruct",
        tensor_parallel_size=4,
        quantization="awq",
        max_model_len=8192,
        extra_args=("--gpu-memory-utilization", "0.9"),
        python="/opt/vllm/bin/python",
    )
    assert server_command(config, 8123) == [
        "/opt/vllm/bin/python",
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        "Qwen/Qwen2.5-7B-Instruct",
        "--served-model-name",
        "Qwen/Qwen2.5-7B-Instruct",
        "--host",
        "127.0.0.1",
        "--port",
        "8123",
        "--tensor-parallel-size",
        "4",
        "--quantization",
        "awq",
        "--max-model-len",
        "8192",
        "--gpu-memory-utilization",
        "0.9",
    ]


def test_python_comes_from_the_flag_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFSTREAM_VLLM_PYTHON", "/env/python")
    assert ServeConfig(model="m").interpreter() == "/env/python"
    assert ServeConfig(model="m", python="/flag/python").interpreter() == "/flag/python"
    monkeypatch.delenv("SFSTREAM_VLLM_PYTHON")
    assert ServeConfig(model="m").interpreter() == sys.executable


def test_serve_prints_the_url_and_sigterm_stops_the_whole_group(
    stand_in: tuple[dict[str, str], Path],
) -> None:
    env, record = stand_in
    with subprocess.Popen(
        [*SFSTREAM, "serve", "my-model", "--max-model-len", "512", "--", "--dtype", "float32"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**env, "PYTHONFAULTHANDLER": "1"},
    ) as proc:
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().decode().strip()
            assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
            argv, engine = record.read_text().splitlines()
            assert "--model my-model --served-model-name my-model" in argv
            assert argv.endswith("--max-model-len 512 --dtype float32")
            assert _alive(int(engine))
            proc.send_signal(signal.SIGTERM)
            err = _stderr_once_stopped(proc, 60)
            assert proc.returncode == 0, err.decode()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    # The engine child went with the server: the whole process group was stopped.
    assert _gone(int(engine))


def test_serve_fails_clearly_when_the_server_exits_while_starting(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}  # no module named vllm here
    proc = subprocess.run(
        [*SFSTREAM, "serve", "m", "--python", sys.executable],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1 and proc.stdout == b""
    assert "vLLM server exited with 1 while starting" in proc.stderr.decode()


def test_run_serve_starts_the_server_runs_against_it_and_stops_it(
    stand_in: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, record = stand_in
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            *SFSTREAM,
            "run",
            "sample",
            "--limit",
            "3",
            "--serve",
            "served",
            "-n",
            "2",
            "-q",
            "--out",
            str(out),
        ],
        capture_output=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    report = orjson.loads((out / "report.json").read_bytes())
    assert report["stages"]["collect"] == 3 and report["stages"]["generate"] == 6
    verified = [orjson.loads(x) for x in (out / "verified.jsonl").read_bytes().splitlines()]
    assert {r["model"] for r in verified} == {"served"}
    assert {r["completion"] for r in verified} == {"answer 0", "answer 1"}
    engine = int(record.read_text().splitlines()[1])
    assert _gone(engine)
    config = (out / "config.toml").read_text()
    assert 'backend = "openai"' in config and 'model = "served"' in config


def test_sigterm_stops_run_serve_and_its_server_and_the_run_resumes(
    stand_in: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, record = stand_in
    out = tmp_path / "out"
    journal = out / "generate.journal"
    with _run_serve_generating(env, out) as (proc, args):
        proc.send_signal(signal.SIGTERM)
        err = _stderr_once_stopped(proc, 120)
    assert proc.returncode == 130, err.decode()
    assert "interrupted" in err.decode()
    engine = int(record.read_text().splitlines()[1])
    assert _gone(engine)  # the server went with the run
    journaled = journal.read_bytes().count(b"\n")
    again = subprocess.run(args, capture_output=True, env=env, timeout=300, check=False)
    assert again.returncode == 0, again.stderr.decode()
    report = orjson.loads((out / "report.json").read_bytes())
    assert report["resumed"]["reused_from_journal"] == journaled
    assert report["stages"]["generate"] == 20


def test_run_serve_checks_the_output_folder_before_starting_the_server(
    stand_in: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, record = stand_in
    out = tmp_path / "out"
    args = [*SFSTREAM, "run", "sample", "--serve", "served", "-q", "--out", str(out)]
    first = subprocess.run([*args, "--limit", "1"], capture_output=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr.decode()
    record.unlink()
    other = subprocess.run([*args, "--limit", "2"], capture_output=True, env=env, timeout=300)
    assert other.returncode == 1 and "another configuration" in other.stderr.decode()
    assert not record.exists()  # no server was started


def test_kill_9_of_run_serve_takes_its_server_down(
    stand_in: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    # sfstream cannot stop anything after SIGKILL: the group's leader sees its pipe from
    # sfstream end and stops the server and the engine it spawned.
    env, record = stand_in
    with _run_serve_generating(env, tmp_path / "out") as (proc, _):
        engine = int(record.read_text().splitlines()[1])
        server = int(Path(f"/proc/{engine}/stat").read_text().split(")")[-1].split()[1])
        assert _alive(engine) and _alive(server)
        proc.kill()
        proc.wait(timeout=30)
    assert _gone(engine, server)
