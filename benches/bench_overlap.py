"""Overlap of the stages (``make bench``): ``sfstream run`` against each stage alone, the shell
pipe and the sum of the stages, on the same problems against the same real vLLM server, in the
same run.

Workload: the 23 coding problems of the bundled sample, each repeated under several ids. The
server is the real vLLM server the tests start (CPU, their tiny random Llama); its own
completions are gibberish, so each request carries vLLM's structured-output constraint
(``structured_outputs.choice``) with one of the problem's recorded completions (real model
outputs, some right, some wrong): the server still decodes every token, and verify runs real
programs against real tests in the sandbox. Each problem's tests are repeated so that
verification costs a fair share of generation, as a problem with dozens of tests does.

Each round times, as subprocesses started the way a user starts them:

* each stage alone, reading the previous stage's file: ``collect``, ``generate``, ``verify``,
  ``format``;
* the pipe ``collect | generate | verify | format`` (four processes joined by pipes);
* ``sfstream run`` into a fresh output folder.

The same comparison runs with the vLLM server's processes moved to half of the cores and the
sfstream processes to the other half, as when the server has a machine or a GPU of its own.
And it runs against a server in this process that answers with the
constrained completion after a time proportional to its length and does no work on this
machine, as a GPU server would: there the cores are the client's alone.

Reported (``benchmark.extra_info`` and printed): median seconds of each over the rounds, the
ratios of ``run``, the pipe and the sum of the stages to the slowest stage alone (the target for
``run`` is 1.15 at most), and each round's own ratio of ``run`` to the slowest stage with their
median (the test server's speed drifts between minutes). Asserted is correctness: every path
gives the same verdicts and training examples, and the server returned exactly the constrained
completions.
"""

from __future__ import annotations

import contextlib
import os
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from memory_sampler import process_tree, sfstream_env, start_pipe
from sfstream.backends.replay import bundled_completions

DATA = Path(__file__).resolve().parents[1] / "python" / "sfstream" / "data"
COPIES = int(os.environ.get("SFSTREAM_BENCH_OVERLAP_COPIES", "6"))
TEST_REPEAT = int(os.environ.get("SFSTREAM_BENCH_OVERLAP_TEST_REPEAT", "4"))
ROUNDS = int(os.environ.get("SFSTREAM_BENCH_OVERLAP_ROUNDS", "8"))
CONCURRENCY = 16
# The vLLM server of the tests computes on the CPU: on a small machine, verify keeps to one
# worker so that the server keeps a core (with a GPU server, verify would take every core).
WORKERS = os.environ.get("SFSTREAM_BENCH_OVERLAP_WORKERS", "1")


def _workload(path: Path) -> tuple[Path, dict[str, str]]:
    """Writes the problems; returns the file and the completion forced for each id."""
    recorded: dict[str, list[str]] = {}
    for line in bundled_completions().splitlines():
        row = orjson.loads(line)
        recorded.setdefault(row["id"], []).append(row["completion"])
    forced: dict[str, str] = {}
    lines = []
    for line in (DATA / "problems.jsonl").read_bytes().splitlines():
        problem = orjson.loads(line)
        if problem["domain"] != "code":
            continue
        tests = dict(problem["tests"])
        for key in ("inputs", "outputs"):
            tests[key] = list(tests[key]) * TEST_REPEAT
        options = recorded[problem["id"]]
        for copy in range(COPIES):
            text = options[copy % len(options)]
            statement = len(problem["problem"]) + len(problem.get("starter_code") or "")
            if 0.7 * statement + 150 + 0.8 * len(text) > 2000:
                continue  # prompt and completion would not fit the server's 2,048 tokens
            ident = f"{problem['id']}@{copy}"
            forced[ident] = text
            row = {
                **problem,
                "id": ident,
                "tests": tests,
                "generation": {
                    "max_tokens": min(1024, len(text)),
                    "extra_body": {"structured_outputs": {"choice": [text]}},
                },
            }
            lines.append(orjson.dumps(row))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path, forced


def _cpu_seconds(server_pid: int) -> float:
    """CPU time used so far by the server's processes and by every sfstream process this
    benchmark has waited for."""
    ticks = 0
    for pid in process_tree(server_pid):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ticks / os.sysconf("SC_CLK_TCK") + usage.ru_utime + usage.ru_stime


def _sfstream(*args: str, **kw: Any) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "sfstream", *args, "-q"],
        env=sfstream_env(),
        capture_output=True,
        timeout=1800,
        check=False,
        **kw,
    )
    seconds = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    return seconds


def _pipe(
    source: Path, server: list[str], workers: list[str], output: Path, verified: Path
) -> float:
    started = time.perf_counter()
    procs = list(
        start_pipe(
            {
                "collect": ["collect", str(source)],
                "generate": ["generate", *server],
                "verify": ["verify", *workers],
                "format": ["format", "-o", str(output)],
            },
            tee={"verify": verified},  # the verdicts, to name any that differ
        ).values()
    )
    errors = [p.communicate(timeout=1800)[1] for p in reversed(procs)]
    seconds = time.perf_counter() - started
    for proc, err in zip(reversed(procs), errors, strict=True):
        assert proc.returncode == 0, err.decode(errors="replace")[-3000:]
    return seconds


def _rows(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.mark.vllm
@pytest.mark.timeout(3600)
def test_run_overlaps_the_stages(vllm_server: Any, benchmark: Any, tmp_path: Path) -> None:
    _compare(vllm_server.base_url, vllm_server.model, vllm_server.pid, benchmark, tmp_path)


@contextlib.contextmanager
def _cores_split(server_pid: int) -> Iterator[tuple[list[int], list[int]]]:
    """Moves every thread of the server's processes to the first half of this process's cores
    and this process (so every sfstream process it starts, and the programs they run) to the
    other half, as when the model server has a machine (or a GPU) of its own; puts every thread
    back where it was on exit."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs two cores: one for the server, one for sfstream")
    server_cpus, client_cpus = cpus[: len(cpus) // 2], cpus[len(cpus) // 2 :]
    saved: dict[int, set[int]] = {}
    mine = os.sched_getaffinity(0)
    try:
        for pid in process_tree(server_pid):
            for task in Path(f"/proc/{pid}/task").iterdir():
                tid = int(task.name)
                try:
                    saved[tid] = os.sched_getaffinity(tid)
                    os.sched_setaffinity(tid, server_cpus)
                except OSError:  # the thread ended meanwhile
                    saved.pop(tid, None)
        os.sched_setaffinity(0, client_cpus)
        yield server_cpus, client_cpus
    finally:
        os.sched_setaffinity(0, mine)
        for tid, mask in saved.items():
            try:
                os.sched_setaffinity(tid, mask)
            except OSError:
                pass


@pytest.mark.vllm
@pytest.mark.timeout(3600)
def test_run_overlaps_the_stages_with_the_server_on_cores_of_its_own(
    vllm_server: Any, benchmark: Any, tmp_path: Path
) -> None:
    """The same comparison against the same real vLLM server, its processes moved to half of
    the cores and every sfstream process (and the programs verify runs) to the other half, as
    when the server runs on a machine or a GPU of its own: generation no longer loses cores to
    verification, and the overlap itself is what is measured. (On a small machine whose cores
    the server shares, `run` cannot beat the sum of the CPU time of its parts; the unsplit
    variant above reports that case.)"""
    with _cores_split(vllm_server.pid) as (server_cpus, client_cpus):
        benchmark.extra_info["server_cpus"] = server_cpus
        benchmark.extra_info["sfstream_cpus"] = client_cpus
        _compare(
            vllm_server.base_url,
            vllm_server.model,
            vllm_server.pid,
            benchmark,
            tmp_path,
            label=f"server on cores {server_cpus}, sfstream on {client_cpus}",
        )


def _forced_completion(body: dict[str, Any], index: int) -> tuple[str, str]:
    return body["structured_outputs"]["choice"][0], "stop"


@pytest.mark.timeout(3600)
def test_run_overlaps_the_stages_against_a_server_that_uses_no_local_cpu(
    benchmark: Any, tmp_path: Path
) -> None:
    """The same comparison against a server that answers each request with the constrained
    completion after a time proportional to its length (300 characters a second, about 100
    tokens a second per request) and does no work on this machine, as a GPU server would."""
    from instant_fake_server import InstantFakeServer

    with InstantFakeServer(
        _forced_completion,
        delay=lambda body: len(body["structured_outputs"]["choice"][0]) / 300,
    ) as server:
        _compare(server.base_url, "fake", os.getpid(), benchmark, tmp_path)


def _compare(
    url: str, model: str, server_pid: int, benchmark: Any, tmp_path: Path, label: str = ""
) -> None:
    source, forced = _workload(tmp_path / "source.jsonl")
    server = ["--base-url", url, "--model", model, "--concurrency", str(CONCURRENCY)]
    workers = ["--workers", WORKERS]
    times: dict[str, list[float]] = {
        k: [] for k in ("collect", "generate", "verify", "format", "pipe", "run")
    }
    cpu: dict[str, list[float]] = {k: [] for k in times}

    def timed(key: str, seconds: Any) -> None:
        before = _cpu_seconds(server_pid)
        times[key].append(seconds())
        cpu[key].append(_cpu_seconds(server_pid) - before)

    outputs: list[dict[str, Any]] = []

    def one_round() -> None:
        d = tmp_path / f"round{len(outputs)}"
        d.mkdir()
        problems, samples = d / "problems.jsonl", d / "samples.jsonl"
        verified, train = d / "verified.jsonl", d / "train.jsonl"

        def stages() -> None:
            timed("collect", lambda: _sfstream("collect", str(source), "-o", str(problems)))
            timed(
                "generate",
                lambda: _sfstream("generate", "-i", str(problems), "-o", str(samples), *server),
            )
            timed(
                "verify",
                lambda: _sfstream("verify", "-i", str(samples), "-o", str(verified), *workers),
            )
            timed("format", lambda: _sfstream("format", "-i", str(verified), "-o", str(train)))

        def pipe() -> None:
            timed(
                "pipe",
                lambda: _pipe(source, server, workers, d / "pipe.jsonl", d / "pipe_verified.jsonl"),
            )

        def run() -> None:
            timed(
                "run",
                lambda: _sfstream("run", str(source), *server, *workers, "--out", str(d / "run")),
            )

        # Each round starts with another of the three, so none always runs first.
        order = [stages, pipe, run]
        shift = len(outputs) % len(order)
        for step in order[shift:] + order[:shift]:
            step()
        outputs.append(
            {
                "samples": _rows(samples),
                "verified": _rows(verified),
                "train": _rows(train),
                "pipe": _rows(d / "pipe.jsonl"),
                "pipe_verified": _rows(d / "pipe_verified.jsonl"),
                "run_verified": _rows(d / "run" / "verified.jsonl"),
                "run_train": _rows(d / "run" / "train.jsonl"),
            }
        )

    # Warm the server first (its structured-output grammars and prefix cache), untimed.
    warm = tmp_path / "warm"
    warm.mkdir()
    _sfstream("collect", str(source), "-o", str(warm / "problems.jsonl"))
    _sfstream("generate", "-i", str(warm / "problems.jsonl"), "-o", str(warm / "s.jsonl"), *server)
    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)

    # Correctness of everything timed: the same verdicts and examples on every path.
    for out in outputs:
        assert {s["id"]: s["completion"] for s in out["samples"]} == forced
        assert all(s["finish_reason"] == "stop" for s in out["samples"])
        train_ids = sorted(r["id"] for r in out["train"])
        assert train_ids, "no sample verified as correct"
        verdicts = {r["id"]: r["verdict"] for r in out["verified"]}
        for path in ("pipe_verified", "run_verified"):
            other = {r["id"]: r["verdict"] for r in out[path]}
            differ = {
                i: (verdicts[i], other.get(i))
                for i in verdicts
                if verdicts[i]["status"] != (other.get(i) or {}).get("status")
            }
            assert not differ and len(other) == len(verdicts), (path, differ)
        assert sorted(r["id"] for r in out["pipe"]) == train_ids
        assert sorted(r["id"] for r in out["run_train"]) == train_ids
    assert outputs[0]["train"] and all(
        sorted(r["id"] for r in o["train"]) == sorted(r["id"] for r in outputs[0]["train"])
        for o in outputs
    )

    median = {k: statistics.median(v) for k, v in times.items()}
    stages = ("collect", "generate", "verify", "format")
    slowest = max(stages, key=lambda k: median[k])
    total = sum(median[k] for k in stages)
    statuses = Counter(r["verdict"]["status"] for r in outputs[0]["verified"])
    info = {
        "problems": len(forced),
        "tests_per_problem_repeat": TEST_REPEAT,
        "verify_workers": int(WORKERS),
        "completion_tokens": sum(
            (s.get("usage") or {}).get("completion_tokens", 0) for s in outputs[0]["samples"]
        ),
        "verdicts": dict(statuses.most_common()),
        "rounds": ROUNDS,
        "seconds": {k: [round(x, 2) for x in v] for k, v in times.items()},
        "median_seconds": {k: round(v, 2) for k, v in median.items()},
        # CPU seconds of the server and of the sfstream processes per path (programs run in
        # the sandbox count where the kernel accounts them to a process waited for): on a
        # machine whose cores the server shares, no path can take less wall time than its CPU
        # time over the cores.
        "median_cpu_seconds": {k: round(statistics.median(v), 2) for k, v in cpu.items()},
        "slowest_stage": slowest,
        "sum_of_stages_seconds": round(total, 2),
        "run_over_slowest_stage": round(median["run"] / median[slowest], 3),
        # The server's speed drifts by a fifth from minute to minute here: each round's own
        # ratio compares measurements taken a minute apart at most.
        "run_over_slowest_stage_by_round": [
            round(r / g, 3) for r, g in zip(times["run"], times[slowest], strict=True)
        ],
        "median_of_round_ratios": round(
            statistics.median(r / g for r, g in zip(times["run"], times[slowest], strict=True)), 3
        ),
        "pipe_over_slowest_stage": round(median["pipe"] / median[slowest], 3),
        "sum_over_slowest_stage": round(total / median[slowest], 3),
        "run_over_pipe": round(median["run"] / median["pipe"], 3),
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 1),
    }
    benchmark.extra_info.update(info)
    print(f"\noverlap ({model}{', ' + label if label else ''}):", orjson.dumps(info).decode())
    cpu_median = {k: statistics.median(v) for k, v in cpu.items()}
    cpu_median["sum of stages"] = sum(cpu_median[k] for k in stages)
    print("| path | median s | / slowest stage alone | CPU s (server and sfstream) |")
    print("|---|---:|---:|---:|")
    for key in (*stages, "sum of stages", "pipe", "run"):
        value = total if key == "sum of stages" else median[key]
        print(f"| {key} | {value:.2f} | {value / median[slowest]:.2f} | {cpu_median[key]:.1f} |")
