"""``sfstream run`` as a command: flags over the TOML file, the effective configuration, and
resuming after ``kill -9`` at points in each stage (exactly once, nothing verified twice, at
most the in-flight requests sent again)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from instant_fake_server import InstantFakeServer
from sfstream.ndjson import dumps
from sfstream.records import Problem
from sfstream.runner import load_config

SFSTREAM = [sys.executable, "-m", "sfstream"]


def sh(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(SFSTREAM + args, capture_output=True, timeout=timeout, check=False)


def rows(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


def complete_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def verdicts(out: Path) -> Counter[tuple[str, int, str]]:
    """(id, sample index, status) of every verified sample, with multiplicity."""
    return Counter(
        (r["id"], r["sample_index"], r["verdict"]["status"]) for r in rows(out / "verified.jsonl")
    )


def report(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((out / "report.json").read_bytes())
    return data


def kill_when(args: list[str], ready: Callable[[], bool], limit: float = 300) -> int:
    """Starts ``sfstream ARGS``, polls ``ready`` and kills the process with SIGKILL as soon as
    it holds. Fails when the run ended first. Returns the process id."""
    proc = subprocess.Popen(
        SFSTREAM + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.monotonic() + limit
    try:
        while not ready():
            assert proc.poll() is None, (
                f"the run ended before the kill point: {proc.stderr.read().decode()[-2000:]}"
                if proc.stderr
                else "the run ended before the kill point"
            )
            assert time.monotonic() < deadline, "kill point not reached"
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
    return proc.pid


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample run once, uninterrupted, with the replay backend."""
    out = tmp_path_factory.mktemp("reference") / "out"
    proc = sh(["run", "sample", "--out", str(out), "-q"])
    assert proc.returncode == 0, proc.stderr.decode()
    return out


def test_flags_override_the_file_and_the_effective_configuration_is_written(
    tmp_path: Path,
) -> None:
    config = tmp_path / "run.toml"
    config.write_text(
        '[collect]\nsources = ["sample"]\nlimit = 2\nseed = 1\n'
        '[generate]\nn = 1\n[verify]\nworkers = 1\n[format]\nstyle = "sharegpt"\n'
    )
    out = tmp_path / "out"
    proc = sh(
        ["run", "--config", str(config), "--limit", "3", "--style", "seed", "--out", str(out)]
    )
    assert proc.returncode == 0, proc.stderr.decode()
    effective = load_config(out / "config.toml")
    assert effective.limit == 3 and effective.seed == 1  # flag over file; file kept
    assert effective.format.style == "seed" and effective.verify.workers == 1
    assert effective.generate.backend == "replay" and effective.generate.n == 1
    assert effective.out == out
    assert report(out)["stages"]["collect"] == 3  # --limit is per source: one source here
    assert all("text" in r for r in rows(out / "train.jsonl"))  # the seed style
    # The written file reproduces the run: resuming with it finds the same configuration.
    again = sh(["run", "--config", str(out / "config.toml")])
    assert again.returncode == 0, again.stderr.decode()
    assert "resuming" in again.stderr.decode()
    assert report(out)["resumed"]["verified_now"] == 0


def test_another_configuration_is_refused_and_restart_starts_over(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = sh(["run", "sample", "--limit", "2", "--out", str(out), "-q"])
    assert first.returncode == 0, first.stderr.decode()
    before = (out / "verified.jsonl").read_bytes()
    other = sh(["run", "sample", "--limit", "3", "--out", str(out), "-q"])
    assert other.returncode == 1
    message = other.stderr.decode()
    assert "another configuration" in message and "collect.limit" in message
    assert "--restart" in message and len(message.strip().splitlines()) == 1
    assert (out / "verified.jsonl").read_bytes() == before  # nothing touched
    restarted = sh(["run", "sample", "--limit", "3", "--out", str(out), "-q", "--restart"])
    assert restarted.returncode == 0, restarted.stderr.decode()
    assert report(out)["stages"]["collect"] > report_count_of(before)
    assert report(out).get("resumed", {}).get("verified_kept", 0) == 0


def report_count_of(verified: bytes) -> int:
    return len({orjson.loads(x)["id"] for x in verified.splitlines()})


def test_speed_options_may_change_when_resuming(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert sh(["run", "sample", "--limit", "1", "--out", str(out), "-q"]).returncode == 0
    again = sh(["run", "sample", "--limit", "1", "--out", str(out), "--workers", "1"])
    assert again.returncode == 0, again.stderr.decode()


def test_kill_while_verifying_verifies_nothing_twice(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", "sample", "--out", str(out), "--workers", "1", "-q"]
    partial = out / "verified.jsonl.partial"
    kill_when(args, lambda: complete_lines(partial) >= 40)
    kept = complete_lines(partial)  # what the rerun finds (a line cut short is not kept)
    total = sum(verdicts(reference).values())
    assert 40 <= kept < total
    proc = sh(args)
    assert proc.returncode == 0, proc.stderr.decode()
    resumed = report(out)["resumed"]
    assert resumed == {
        "verified_kept": kept,
        "verified_now": total - kept,
        "generated_now": total,  # the replay backend answers again; no server is involved
        "reused_from_journal": 0,
    }
    assert verdicts(out) == verdicts(reference)  # every sample once, same verdicts
    assert max(verdicts(out).values()) == 1
    assert sorted(rows(out / "train.jsonl"), key=lambda r: r["id"]) == sorted(
        rows(reference / "train.jsonl"), key=lambda r: r["id"]
    )
    ref, got = report(reference), report(out)
    assert got["stages"] == ref["stages"] and got["by_source"] == ref["by_source"]
    assert not partial.exists()


def test_kill_while_writing_training_examples(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", "sample", "--out", str(out), "--workers", "1", "-q"]
    kill_when(args, lambda: complete_lines(out / "train.jsonl.partial") >= 5)
    assert not (out / "train.jsonl").exists() and not (out / "report.json").exists()
    proc = sh(args)
    assert proc.returncode == 0, proc.stderr.decode()
    train = [r["id"] for r in rows(out / "train.jsonl")]
    assert len(train) == len(set(train))
    assert sorted(train) == sorted(r["id"] for r in rows(reference / "train.jsonl"))
    assert verdicts(out) == verdicts(reference)


def _problems_file(path: Path, count: int) -> Path:
    with open(path, "wb") as f:
        for i in range(count):
            problem = Problem(
                id=f"p/{i}",
                domain="math",
                source="test",
                problem=f"What is {i} + {i}?",
                answer=str(2 * i),
            )
            f.write(orjson.dumps(problem.to_dict()) + b"\n")
    return path


def _answer_right(body: dict[str, Any], index: int) -> tuple[str, str]:
    text = str(body["messages"][-1]["content"])
    number = int(text.split("What is ")[1].split(" + ")[0])
    return f"The answer is \\boxed{{{2 * number + index % 2}}}.", "stop"


def _server_args(server: InstantFakeServer, problems: Path, out: Path) -> list[str]:
    return [
        "run",
        str(problems),
        "--base-url",
        server.base_url,
        "--model",
        "m",
        "-n",
        "2",
        "--concurrency",
        "4",
        "--out",
        str(out),
        "-q",
    ]


def test_kill_before_any_response_resends_only_the_requests_in_flight(tmp_path: Path) -> None:
    """Killed while collecting and waiting on the first requests: nothing arrived, and the
    rerun (against a server on another port) sends exactly those requests again."""
    problems = _problems_file(tmp_path / "problems.jsonl", 30)
    out = tmp_path / "out"
    with InstantFakeServer(_answer_right, hold_until=10**6, hold_seconds=3600) as held:
        kill_when(_server_args(held, problems, out), lambda: held.requests >= 4)
        in_flight = held.requests
    assert in_flight == 4 and complete_lines(out / "generate.journal") == 0
    with InstantFakeServer(_answer_right) as server:
        proc = sh(_server_args(server, problems, out))
        assert proc.returncode == 0, proc.stderr.decode()
        assert server.requests == 30  # the 4 killed in flight, sent again, and the rest
    got = verdicts(out)
    assert sorted(got) == sorted(
        (f"p/{i}", k, "correct" if k == 0 else "wrong_answer") for i in range(30) for k in (0, 1)
    )
    assert max(got.values()) == 1
    assert len(rows(out / "train.jsonl")) == 30


def test_kill_while_collecting_and_generating_resends_at_most_the_requests_in_flight(
    tmp_path: Path,
) -> None:
    """Killed mid-stream: with buffers of 8 between stages and collect reading 64 problems at a
    time, collect is at most ~120 problems ahead of the ~30 journaled, so it is still reading
    the 300 when the process dies."""
    problems = _problems_file(tmp_path / "problems.jsonl", 300)
    out = tmp_path / "out"

    def slow(body: dict[str, Any], index: int) -> tuple[str, str]:
        time.sleep(0.005)  # paces the server so the kill lands mid-run
        return _answer_right(body, index)

    journal = out / "generate.journal"
    with InstantFakeServer(slow) as first:
        kill_when(_server_args(first, problems, out), lambda: complete_lines(journal) >= 60)
        sent_before = first.requests
    journaled = complete_lines(journal)
    assert journaled % 2 == 0 and 60 <= journaled < 600  # whole responses: n=2 lines each
    with InstantFakeServer(_answer_right) as second:
        proc = sh(_server_args(second, problems, out))
        assert proc.returncode == 0, proc.stderr.decode()
        sent_after = second.requests
    # Every problem whose response was journaled is not asked again...
    assert sent_after == 300 - journaled // 2
    # ...so what was sent twice is what was in flight when the process died (at most 4).
    assert 0 <= sent_before + sent_after - 300 <= 4
    r = report(out)
    assert r["resumed"]["reused_from_journal"] == journaled
    assert r["resumed"]["generated_now"] == 600 - journaled
    got = verdicts(out)
    assert len(got) == 600 and max(got.values()) == 1
    assert len(rows(out / "train.jsonl")) == 300
    assert r["stages"] == {"collect": 300, "generate": 600, "verify": 600, "format": 300}


def test_samples_kept_from_an_earlier_attempt_keep_big_integers(tmp_path: Path) -> None:
    big = 2**70 + 1
    problem = Problem(
        id="big/0",
        domain="math",
        source="test",
        problem="What is 2 + 2?",
        answer="4",
        meta={"weight": big},
    )
    problems = tmp_path / "problems.jsonl"
    problems.write_bytes(dumps(problem))
    out = tmp_path / "out"
    with InstantFakeServer(lambda body, i: ("\\boxed{4}", "stop")) as server:
        args = ["run", str(problems), "--base-url", server.base_url, "--model", "m"]
        args += ["--out", str(out), "-q"]
        assert sh(args).returncode == 0
        again = sh(args)  # resumes the finished run: its sample is read back, not verified
        assert again.returncode == 0, again.stderr.decode()
    assert report(out)["resumed"]["verified_kept"] == 1
    assert str(big).encode() in (out / "train.jsonl").read_bytes()


def test_a_second_run_into_the_same_folder_is_refused_while_the_first_runs(
    tmp_path: Path,
) -> None:
    problems = _problems_file(tmp_path / "problems.jsonl", 10)
    out = tmp_path / "out"
    with InstantFakeServer(_answer_right, hold_until=10**6, hold_seconds=3600) as held:
        args = _server_args(held, problems, out)
        with subprocess.Popen(
            SFSTREAM + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ) as first:
            try:
                deadline = time.monotonic() + 120
                while held.requests < 4:  # the first run holds the folder, waiting on answers
                    assert first.poll() is None and time.monotonic() < deadline
                    time.sleep(0.01)
                second = sh(args)
                assert second.returncode == 1
                assert "in use by another sfstream run" in second.stderr.decode()
            finally:
                first.kill()
                first.wait()
