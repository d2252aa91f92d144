"""Pytest plugin: a local Ray cluster of two nodes, started once for the Ray tests.

The ``ray_cluster`` fixture starts a head node and a worker node on this machine, each a
``ray start --block`` process in its own process group with one CPU, one logical GPU (a
resource name only: nothing uses a device; it lets ``--serve`` place a server per "GPU
node"), a 100 MB object store, no dashboard and its own short temporary directory. It waits
until both nodes are alive and stops both process groups when the Ray tests are done.

Ray takes a node's outward address as its own, even for ``127.0.0.1``; the test cluster keeps
every connection on the loopback interface with ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (Ray
then uses ``127.0.0.1``), which also makes ``ray start --address`` refuse to add a node. The
worker node is therefore started through ``ray.scripts.scripts`` with that one check seeing a
true flag, while everything it starts keeps the loopback address. Drivers (``sfstream run
--ray``) get the same environment (:attr:`RayCluster.env`).

Environment:
    SFSTREAM_RAY_START_TIMEOUT: seconds to wait for the two nodes (180).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
STOP_GRACE = 5.0

# `ray start` for a worker node, with the multi-node check seeing a true flag.
_WORKER_START = """
import sys, types
import ray._private.ray_constants as constants
import ray.scripts.scripts as scripts
view = types.SimpleNamespace(**vars(constants))
view.ENABLE_RAY_CLUSTER = True
scripts.ray_constants = view
sys.argv = ["ray", *sys.argv[1:]]
scripts.main()
"""

_NODES = """
import json, sys, ray
ray.init(address=sys.argv[1], include_dashboard=False, logging_level=40)
print(json.dumps(sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])))
"""


@dataclass(frozen=True)
class RayCluster:
    """A running two-node Ray cluster.

    Attributes:
        address: ``127.0.0.1:PORT`` of the head (what ``--ray`` takes).
        node_ids: The ids of its two nodes.
        env: Environment for processes that connect to it.
        temp_dir: Ray's state and logs.
    """

    address: str
    node_ids: tuple[str, ...]
    env: dict[str, str]
    temp_dir: Path


def _free_port() -> int:
    from sfstream.serve import free_port

    return free_port()


def _node_args(temp: Path) -> list[str]:
    return [
        "--num-cpus",
        "1",
        "--num-gpus",
        "1",
        "--object-store-memory",
        str(100 * 1024 * 1024),
        "--node-ip-address",
        "127.0.0.1",
        "--dashboard-agent-listen-port",
        str(_free_port()),
        "--metrics-export-port",
        str(_free_port()),
        "--temp-dir",
        str(temp),
        "--disable-usage-stats",
        "--block",
    ]


def _alive_nodes(address: str, env: dict[str, str]) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", _NODES, address],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        return []
    nodes: list[str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return nodes


@contextlib.contextmanager
def start_ray_cluster(timeout: float = 180.0) -> Iterator[RayCluster]:
    """Starts the head and the worker node; stops both when the block exits."""
    from sfstream.serve import stop_group

    ray_bin = Path(sys.executable).with_name("ray")
    # Short: Ray's socket paths live under it and a socket path has at most 107 bytes.
    temp = Path(tempfile.mkdtemp(prefix="sfray-"))
    env = {**os.environ, **LOOPBACK_ENV}
    port = _free_port()
    address = f"127.0.0.1:{port}"
    procs: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        for name, cmd in (
            (
                "head",
                [
                    str(ray_bin),
                    *("start", "--head", "--port", str(port), "--include-dashboard", "false"),
                    *_node_args(temp / "head"),
                ],
            ),
            (
                "worker",
                [
                    *(sys.executable, "-c", _WORKER_START, "start", "--address", address),
                    *_node_args(temp / "worker"),
                ],
            ),
        ):
            log = open(temp / f"{name}.log", "wb")
            logs.append(log)
            procs.append(
                subprocess.Popen(
                    cmd,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + timeout
        nodes: list[str] = []
        while len(nodes) < 2:
            for proc, name in zip(procs, ("head", "worker"), strict=True):
                if proc.poll() is not None:
                    text = (temp / f"{name}.log").read_text(errors="replace")[-3000:]
                    pytest.fail(f"ray {name} node exited with {proc.returncode}:\n{text}")
            if time.monotonic() > deadline:
                pytest.fail(f"the Ray cluster did not have two nodes after {timeout:.0f} s")
            time.sleep(1.0)
            nodes = _alive_nodes(address, env)
        yield RayCluster(address=address, node_ids=tuple(nodes), env=env, temp_dir=temp)
    finally:
        for proc in reversed(procs):
            stop_group(proc, STOP_GRACE)
        for log in logs:
            log.close()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[RayCluster]:
    """The two-node Ray cluster (skips when Ray is not installed). Module-scoped: the Ray
    tests live in one module, so one cluster serves them all and stops when they are done,
    not idling through the rest of the session."""
    if importlib.util.find_spec("ray") is None:
        pytest.skip("Ray is not installed (pip install 'sfstream[ray]')")
    timeout = float(os.environ.get("SFSTREAM_RAY_START_TIMEOUT", "180"))
    with start_ray_cluster(timeout) as cluster:
        yield cluster
