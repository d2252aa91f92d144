"""``sfstream run --ray``: the run on a local two-node Ray cluster (a head and a worker process
on this machine, one for the module) gives the same ids and verdicts as the one-process run, uses
both nodes, resumes per shard, and places one server per GPU node with ``--serve``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from instant_fake_server import InstantFakeServer
from ray_cluster import RayCluster
from sfstream.errors import ConfigError
from sfstream.ray_run import RayOptions, gpu_nodes, server_groups
from sfstream.serve import free_port
from sfstream.shard import shard_of

SFSTREAM = [sys.executable, "-m", "sfstream"]
TESTS = Path(__file__).resolve().parent


def sh(
    args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        SFSTREAM + args, capture_output=True, timeout=600, check=False, env=env, cwd=cwd
    )


def rows(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


def verdicts(out: Path) -> Counter[tuple[str, int, str, bool]]:
    """(id, sample index, status, correct) of every verified sample, with multiplicity."""
    return Counter(
        (r["id"], r["sample_index"], r["verdict"]["status"], r["verdict"]["correct"])
        for r in rows(out / "verified.jsonl")
    )


def train_ids(out: Path) -> Counter[str]:
    return Counter(r["id"] for r in rows(out / "train.jsonl"))


def report(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((out / "report.json").read_bytes())
    return data


def assert_same_run(ray_out: Path, whole: Path) -> None:
    assert verdicts(ray_out) == verdicts(whole)
    assert train_ids(ray_out) == train_ids(whole)
    a, b = report(whole), report(ray_out)
    for key in ("stages", "statuses", "by_domain", "by_source"):
        assert b[key] == a[key], key


def test_server_groups_split_the_servers_among_the_workers() -> None:
    urls = ["http://a/v1", "http://b/v1", "http://c/v1", "http://d/v1", "http://e/v1"]
    assert server_groups(urls, 2) == [
        ("http://a/v1", "http://c/v1", "http://e/v1"),
        ("http://b/v1", "http://d/v1"),
    ]
    assert server_groups(urls, 8) == [(u,) for u in urls]  # more workers than servers
    assert server_groups(urls[:1], 3) == [("http://a/v1",)]
    assert server_groups([], 4) == []


def test_gpu_nodes_are_the_alive_nodes_with_a_gpu() -> None:
    nodes = [
        {"NodeID": "a", "Alive": True, "Resources": {"CPU": 8.0, "GPU": 4.0}},
        {"NodeID": "b", "Alive": True, "Resources": {"CPU": 8.0}},
        {"NodeID": "c", "Alive": False, "Resources": {"CPU": 8.0, "GPU": 8.0}},
        {"NodeID": "d", "Alive": True, "Resources": {"GPU": 1.0}},
    ]
    assert gpu_nodes(nodes) == [("a", 4), ("d", 1)]


def test_ray_options_are_checked() -> None:
    for bad in ({"shards": 0}, {"workers": 0}, {"cpus": 0.0}):
        with pytest.raises(ConfigError):
            RayOptions(**bad)  # type: ignore[arg-type]


def test_missing_ray_names_the_extra(tmp_path: Path) -> None:
    """Without Ray the run stops at once with one line naming the extra to install."""
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from sfstream.cli import main\n"
        f"main(['run', 'sample', '--ray', '--out', {str(tmp_path / 'out')!r}])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=120, check=False
    )
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert "sfstream run: error: --ray needs Ray" in err and "sfstream[ray]" in err, err
    assert "Traceback" not in err


def test_ray_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    # Checked before Ray is started.
    proc = sh(["run", "sample", "--ray", "--shard", "0/2", "--out", str(tmp_path / "a")])
    assert proc.returncode == 1 and b"leave out --shard" in proc.stderr, proc.stderr
    whole = tmp_path / "whole"
    assert sh(["run", "sample", "--limit", "4", "--out", str(whole), "-q"]).returncode == 0
    proc = sh(["run", "sample", "--limit", "4", "--ray", "--out", str(whole)])
    assert proc.returncode == 1 and b"made without --ray" in proc.stderr, proc.stderr


@pytest.mark.ray
def test_ray_run_equals_the_one_process_run(ray_cluster: RayCluster, tmp_path: Path) -> None:
    """The bundled sample with its recorded completions, cut into 4 shards over the 2 nodes:
    the merged outputs hold the same samples and verdicts as one process, both nodes ran
    shards, and rerunning the finished run redoes no shard."""
    common = ["run", "sample", "--limit", "40", "--seed", "3", "-q"]
    whole = tmp_path / "whole"
    proc = sh([*common, "--out", str(whole)])
    assert proc.returncode == 0, proc.stderr.decode()
    out = tmp_path / "ray"
    # A relative --out means the driver's folder on every node.
    args = [*common, "--ray", ray_cluster.address, "--ray-shards", "4", "--out", "ray"]
    proc = sh(args, env=ray_cluster.env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    assert_same_run(out, whole)
    info = report(out)["ray"]
    assert info["shards"] == 4 and info["workers"] == 2
    # Both nodes did work.
    assert sorted(info["nodes"]) == sorted(ray_cluster.node_ids)
    runs = info["runs"]
    assert [r["shard"] for r in runs] == ["0/4", "1/4", "2/4", "3/4"]
    assert all(not r["skipped"] and not r["error"] for r in runs)
    # Each shard holds exactly its problems.
    for r in runs:
        index = int(r["shard"].split("/")[0])
        ids = {x["id"] for x in rows(out / "shards" / f"{index}-of-4" / "verified.jsonl")}
        assert ids and all(shard_of(i, 4) == index for i in ids)
        assert r["problems"] == len(ids)
    assert sum(r["problems"] for r in runs) == report(whole)["stages"]["collect"]
    # Each shard checks as many samples at once as the CPUs its task reserved (one).
    shard_config = tomllib.loads((out / "shards" / "0-of-4" / "config.toml").read_text())
    assert shard_config["verify"]["workers"] == 1
    assert shard_config["collect"]["shard"] == "0/4"

    # Rerun: every shard is finished, none is run again, the outputs are the same.
    stamps = {p: p.stat().st_mtime_ns for p in (out / "shards").glob("*/verified.jsonl")}
    proc = sh(args, env=ray_cluster.env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    assert all(r["skipped"] for r in report(out)["ray"]["runs"])
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert_same_run(out, whole)

    # Other options, or another shard count, are refused before Ray starts.
    for changed, message in (
        (["--style", "seed"], "made with another configuration"),
        (["--ray-shards", "3"], "holds a Ray run of 4 shards"),
    ):
        proc = sh([*args, *changed], env=ray_cluster.env, cwd=tmp_path)
        assert proc.returncode == 1 and message in proc.stderr.decode(), proc.stderr.decode()
    # --restart deletes the shards and runs them all again.
    proc = sh([*args, "--restart"], env=ray_cluster.env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    assert not any(r["skipped"] for r in report(out)["ray"]["runs"])
    assert all(p.stat().st_mtime_ns != t for p, t in stamps.items())
    assert_same_run(out, whole)


@pytest.mark.ray
def test_ray_run_resumes_per_shard(ray_cluster: RayCluster, tmp_path: Path) -> None:
    """Two servers split between two workers, one of them dead: its shards fail, the others
    finish. Rerun with a live server: the finished shards are not run again (the server gets
    requests for the failed shards' problems only) and the result equals the one-process run."""
    problems = ["--limit", "30", "--seed", "5"]
    gen = ["--model", "fake", "-n", "2", "--max-retries", "0"]
    with InstantFakeServer() as server:
        whole = tmp_path / "whole"
        base = ["--base-url", server.base_url]
        proc = sh(["run", "sample", *problems, *gen, *base, "-q", "--out", str(whole)])
        assert proc.returncode == 0, proc.stderr.decode()
        dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
        out = tmp_path / "ray"
        ray_args = ["--ray", ray_cluster.address, "--ray-shards", "4", "--ray-workers", "2"]
        command = ["run", "sample", *problems, *gen, *ray_args, "--out", str(out), "-q"]
        first = sh(
            [*command, "--base-url", server.base_url, "--base-url", dead],
            env=ray_cluster.env,
        )
        # Shards 0 and 2 use the first server, 1 and 3 the dead one.
        assert first.returncode == 1, first.stderr.decode()
        err = first.stderr.decode()
        assert "2 of 4 shard(s) failed" in err and "rerun the same command to resume" in err
        assert "shard 1/4" in err and "shard 3/4" in err
        done = {i: out / "shards" / f"{i}-of-4" / "report.json" for i in (0, 2)}
        assert all(p.exists() for p in done.values())
        assert not (out / "shards" / "1-of-4" / "report.json").exists()
        assert not (out / "report.json").exists()
        stamps = {i: p.stat().st_mtime_ns for i, p in done.items()}
        before = server.requests

        second = sh(
            [*command, "--base-url", server.base_url],
            env=ray_cluster.env,
        )
        assert second.returncode == 0, second.stderr.decode()
        runs = {r["shard"]: r for r in report(out)["ray"]["runs"]}
        assert [runs[f"{i}/4"]["skipped"] for i in range(4)] == [True, False, True, False]
        assert {i: p.stat().st_mtime_ns for i, p in done.items()} == stamps
        # One request per problem (n=2 in one request) of the shards that had failed.
        failed_problems = runs["1/4"]["problems"] + runs["3/4"]["problems"]
        assert failed_problems > 0
        assert server.requests - before == failed_problems
    assert_same_run(out, whole)


@pytest.mark.ray
def test_ray_run_killed_resumes(ray_cluster: RayCluster, tmp_path: Path) -> None:
    """``kill -9`` of the driver once a shard has finished and before all have: the same
    command finishes the run. Shards finished before the kill are not run again, the others
    resume from their folders, and the result equals the one-process run. (The requests of
    the killed attempt go on arriving at the server for a while, so their count is not
    compared here; the journal's reuse is tested for the one-process run.)"""

    def slow(body: dict[str, Any], index: int) -> tuple[str, str]:
        time.sleep(0.15)  # one answer at a time: the shards take seconds
        return f"The answer is $\\boxed{{{index}}}$.", "stop"

    problems = ["--limit", "24", "--seed", "11"]
    with InstantFakeServer(slow) as server:
        gen = ["--base-url", server.base_url, "--model", "fake", "-n", "1"]
        whole = tmp_path / "whole"
        proc = sh(["run", "sample", *problems, *gen, "-q", "--out", str(whole)])
        assert proc.returncode == 0, proc.stderr.decode()
        out = tmp_path / "ray"
        ray_args = ["--ray", ray_cluster.address, "--ray-shards", "4", "--ray-workers", "2"]
        command = [*SFSTREAM, "run", "sample", *problems, *gen, *ray_args, "-q"]
        command += ["--out", str(out)]
        reports = [out / "shards" / f"{i}-of-4" / "report.json" for i in range(4)]
        driver = subprocess.Popen(
            command, env=ray_cluster.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 300
        while not any(p.exists() for p in reports):
            assert driver.poll() is None, driver.stderr.read().decode() if driver.stderr else ""
            assert time.monotonic() < deadline, "no shard finished"
            time.sleep(0.02)
        driver.kill()
        driver.wait()
        if driver.stderr is not None:
            driver.stderr.close()
        finished = {i for i, p in enumerate(reports) if p.exists()}
        assert len(finished) < 4, "every shard finished before the kill"
        stamps = {i: reports[i].stat().st_mtime_ns for i in finished}

        proc = sh(command[len(SFSTREAM) :], env=ray_cluster.env)
        assert proc.returncode == 0, proc.stderr.decode()
        runs = {int(r["shard"].split("/")[0]): r for r in report(out)["ray"]["runs"]}
        skipped = {i for i, r in runs.items() if r["skipped"]}
        # A shard may have ended between the look and the kill; none finished was redone.
        assert finished <= skipped and len(skipped) < 4
        assert {i: reports[i].stat().st_mtime_ns for i in finished} == stamps
    assert_same_run(out, whole)


def _fake_python(tmp_path: Path, record: Path) -> Path:
    """An executable standing in for a python with vLLM (see tests/fake_vllm.py)."""
    script = tmp_path / "python-with-fake-vllm"
    script.write_text(
        "#!/bin/sh\n"
        f'FAKE_VLLM_RECORD={record} exec {sys.executable} {TESTS / "fake_vllm.py"} "$@"\n'
    )
    script.chmod(0o755)
    return script


@pytest.mark.ray
def test_ray_serve_starts_one_server_per_gpu_node(ray_cluster: RayCluster, tmp_path: Path) -> None:
    """``--serve`` places one server on each node with a GPU (both test nodes declare one
    logical GPU; the server is a stand-in started through ``--python``), hands it the node's
    GPU, splits the servers among the workers, and stops them when the run ends."""
    record = tmp_path / "servers"
    record.mkdir()
    python = _fake_python(tmp_path, record)
    out = tmp_path / "ray"
    proc = sh(
        [
            *("run", "sample", "--limit", "20", "--seed", "1", "-n", "1", "-q"),
            *("--ray", ray_cluster.address, "--ray-shards", "4", "--out", str(out)),
            *("--serve", "org/model", "--python", str(python), "--startup-timeout", "120"),
        ],
        env=ray_cluster.env,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    info = report(out)["ray"]
    servers = info["servers"]
    assert sorted(s["node_id"] for s in servers) == sorted(ray_cluster.node_ids)
    assert all(s["model"] == "org/model" for s in servers)
    started = [orjson.loads(p.read_bytes()) for p in sorted(record.glob("*.json"))]
    assert len(started) == 2
    for s in started:
        assert s["module"] == "vllm.entrypoints.openai.api_server"
        assert s["tensor_parallel_size"] == "1"  # all of the node's one GPU
        assert s["cuda_visible_devices"] == "0"  # Ray handed the node's GPU to the server
        assert s["requests"] is not None, "server not stopped by SIGTERM"
        assert s["requests"] > 0  # each server answered some shard
    # Every shard ran against one of the two servers, and the servers are gone.
    urls = {s["base_url"] for s in servers}
    assert {r["servers"] for r in info["runs"]} == urls
    assert sum(s["requests"] for s in started) == report(out)["stages"]["collect"]
    for s in servers:
        with pytest.raises(ProcessLookupError):
            os.kill(s["pid"], 0)


@pytest.mark.ray
@pytest.mark.vllm
def test_ray_run_against_the_real_server(
    ray_cluster: RayCluster, vllm_server: Any, tmp_path: Path
) -> None:
    """End to end with the real vLLM server (greedy, seeded): the same samples and verdicts
    as the one-process run against the same server."""
    common = ["run", "sample", "--limit", "6", "--seed", "2", "-q"]
    gen = ["--base-url", vllm_server.base_url, "--model", vllm_server.model]
    gen += ["-n", "1", "--max-tokens", "16", "--temperature", "0", "--generate-seed", "7"]
    whole = tmp_path / "whole"
    proc = sh([*common, *gen, "--out", str(whole)])
    assert proc.returncode == 0, proc.stderr.decode()
    out = tmp_path / "ray"
    proc = sh(
        [*common, *gen, "--ray", ray_cluster.address, "--ray-shards", "2", "--out", str(out)],
        env=ray_cluster.env,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert_same_run(out, whole)
    assert report(out)["stages"]["verify"] == 6
    assert len(report(out)["ray"]["nodes"]) == 2
