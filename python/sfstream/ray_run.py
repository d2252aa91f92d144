"""``sfstream run --ray [ADDRESS]``: the run spread over the machines of a Ray cluster.

The problems are cut into ``N`` shards by the fixed hash of ``--shard I/N``
(:mod:`sfstream.shard`). Ray Data turns the shards into a dataset of ``N`` rows and maps each
row, as a Ray task reserving ``cpus`` CPUs, to one ordinary ``sfstream run`` of that shard
(:func:`sfstream.runner.run`: collect, generate, verify and format streaming in one process)
writing into ``OUT/shards/I-of-N``. At most ``workers`` shard runs go at once, spread over the
cluster's nodes. Each run streams its generation requests to the servers it is given: the
``--base-url`` list is split into ``min(workers, servers)`` groups and shard ``I`` uses group
``I mod groups``; with ``--serve MODEL`` sfstream first starts one vLLM server on every node
that has a GPU (a Ray actor pinned to the node, reserving the GPUs the server uses) and splits
those. Verification runs inside each shard run, on the CPUs of the node the task landed on.
When every shard has finished, :func:`sfstream.merge.merge` combines the shard folders into
``OUT`` (``train.jsonl``, ``verified.jsonl``, ``report.json``, ``report.txt``,
``config.toml``); ``report.json`` also gets a ``ray`` section saying where each shard ran.

The folders hold the run's state. Rerunning the same command after a failure (a shard's
error, a lost node, a killed driver) skips every finished shard and resumes the others from
their own folders: the generation journal and the verified samples of each shard are reused as
in a one-machine run. The shard count of the first attempt is kept (``OUT/ray-run.json``), so
a cluster of another size resumes the same shards.

Every node must be able to read the inputs (the bundled sample, a ``--data-dir`` or a file on
a shared filesystem, or Hugging Face) and write ``OUT`` (a shared filesystem), and must have
sfstream installed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from sfstream.errors import ConfigError, SfstreamError
from sfstream.merge import merge
from sfstream.report import Report
from sfstream.runner import RUN_FILES, RunConfig, _folder_lock, _write_atomic, check_resumable
from sfstream.serve import ServeConfig
from sfstream.shard import Shard

__all__ = ["RayOptions", "RayRunError", "import_ray", "run_on_ray", "server_groups"]

log = logging.getLogger("sfstream")

#: Written into ``OUT``: the shard count and where each shard ran.
STATE_FILE = "ray-run.json"
SHARDS_DIR = "shards"

INSTALL_HINT = "pip install 'sfstream[ray]'"


class RayRunError(SfstreamError):
    """Shard runs failed, a Ray task was lost or a server did not start on its node; the
    finished shards are kept, and rerunning the command resumes the rest."""


@dataclass(frozen=True, kw_only=True)
class RayOptions:
    """How to spread a run over a Ray cluster.

    Attributes:
        address: What ``ray.init(address=...)`` takes (``auto``, ``HOST:PORT``,
            ``ray://HOST:10001``); None: Ray's own choice (``$RAY_ADDRESS``, else the
            cluster last started on this machine with ``ray start``, else a new Ray instance
            on this machine).
        shards: Shards the problems are cut into (default: the count of an earlier attempt in
            the output folder, else twice ``workers``).
        workers: Shard runs at once (default: the cluster's alive nodes).
        cpus: CPUs each shard run reserves.
        serve: Start one vLLM server per GPU node with these options (``model`` and the
            server flags); the run's generation goes to them (in place of any
            ``base_url``).
    """

    address: str | None = None
    shards: int | None = None
    workers: int | None = None
    cpus: float = 1.0
    serve: ServeConfig | None = None

    def __post_init__(self) -> None:
        for name in ("shards", "workers"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value < 1):
                raise ConfigError(f"--ray-{name} must be at least 1, got {value!r}")
        if not self.cpus > 0:
            raise ConfigError(f"--ray-cpus must be positive, got {self.cpus!r}")


def import_ray() -> Any:
    """Ray with Ray Data.

    Raises:
        ConfigError: Ray (or Ray Data's dependencies) is not installed, naming the extra.
    """
    try:
        import ray
        import ray.data
    except ImportError as e:
        raise ConfigError(
            f"--ray needs Ray with Ray Data, which cannot be imported ({e}): {INSTALL_HINT}"
        ) from None
    return ray


def server_groups(urls: Sequence[str], workers: int) -> list[tuple[str, ...]]:
    """Splits the servers among ``workers`` shard runs going at once: ``min(workers,
    len(urls))`` disjoint groups, server ``k`` in group ``k mod groups``. Shard ``I`` uses
    group ``I mod groups``, so the shards running side by side use different servers."""
    if not urls:
        return []
    count = max(1, min(workers, len(urls)))
    return [tuple(urls[g::count]) for g in range(count)]


def shard_folder(out: Path, shard: Shard) -> Path:
    return out / SHARDS_DIR / f"{shard.index}-of-{shard.count}"


def _shard_config(
    config: RunConfig, shard: Shard, urls: Sequence[str], cpus: float = 1.0
) -> RunConfig:
    generate = replace(config.generate, journal=None)
    if urls:
        generate = replace(generate, base_url=list(urls))
    verify = config.verify
    if verify.workers == 0:
        # As many checks at once as the CPUs the task reserved, not all of the node's: other
        # shards may run on the same node.
        verify = replace(verify, workers=max(1, int(cpus)))
    return replace(
        config,
        shard=shard,
        out=shard_folder(Path(config.out), shard),
        generate=generate,
        verify=verify,
        progress=False,
        restart=False,
    )


def _finished(config: RunConfig) -> bool:
    """Whether the shard folder holds a finished run of this configuration."""
    out = Path(config.out)
    if not (out / "report.json").exists():
        return False
    if any((out / f"{name}.partial").exists() for name in ("verified.jsonl", "train.jsonl")):
        return False
    return check_resumable(config)


#: Seconds a shard run waits for its folder to be free (see :func:`_wait_for_folder`).
FOLDER_WAIT = 120.0


def _wait_for_folder(out: Path, limit: float = FOLDER_WAIT) -> None:
    """Waits until no other process holds the shard folder's lock: after the driver of an
    earlier attempt was killed, Ray stops that attempt's tasks, but not at once."""
    deadline = time.monotonic() + limit
    while True:
        try:
            with _folder_lock(out):
                return
        except ConfigError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _run_shard(
    row: dict[str, Any], config: RunConfig, count: int, cwd: str, cpus: float
) -> dict[str, Any]:
    """One shard, in a Ray task: the ordinary run of its problems into its own folder, from
    the driver's working directory (relative paths mean what they meant there). Returns where
    it ran and what it did; an error is returned, not raised, so the other shards finish (and
    are not redone when the command is rerun)."""
    import ray

    from sfstream.runner import run

    shard = Shard(int(row["index"]), count)
    urls = [u for u in str(row["urls"]).split(" ") if u]
    shard_config = _shard_config(config, shard, urls, cpus)
    context = ray.get_runtime_context()
    result: dict[str, Any] = {
        "shard": str(shard),
        "node_id": context.get_node_id(),
        "node_ip": _node_ip(ray),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "servers": " ".join(urls),
        "skipped": False,
        "error": "",
        "problems": 0,
        "verified": 0,
        "seconds": 0.0,
    }
    started = time.monotonic()
    try:
        try:
            os.chdir(cwd)
        except OSError as e:
            raise ConfigError(
                f"the working directory {cwd} of the run is not on this node ({e.strerror}): "
                "run from a shared filesystem"
            ) from None
        _wait_for_folder(Path(shard_config.out))
        if _finished(shard_config):
            result["skipped"] = True
            report = json.loads((Path(shard_config.out) / "report.json").read_text("utf-8"))
            stages = report.get("stages", {})
        else:
            stages = run(shard_config).stages
        result["problems"] = int(stages.get("collect", 0))
        result["verified"] = int(stages.get("verify", 0))
    except Exception as e:  # reported by the driver, with every other failed shard
        result["error"] = f"{type(e).__name__}: {e}"
    result["seconds"] = time.monotonic() - started
    return result


def _node_ip(ray: Any) -> str:
    return str(ray.util.get_node_ip_address())


class _Server:
    """A Ray actor holding one vLLM server on its node (see :func:`_start_servers`)."""

    def __init__(self, config: ServeConfig) -> None:
        import ray

        from sfstream.serve import start_server

        self._stack = contextlib.ExitStack()
        server = self._stack.enter_context(start_server(replace(config, host="0.0.0.0")))
        port = server.root.rsplit(":", 1)[1]
        self.info = {
            "base_url": f"http://{_node_ip(ray)}:{port}/v1",
            "model": server.model,
            "node_id": ray.get_runtime_context().get_node_id(),
            "startup_seconds": server.startup_seconds,
            "pid": server.pid,
        }

    def describe(self) -> dict[str, Any]:
        return self.info

    def stop(self) -> None:
        self._stack.close()


def gpu_nodes(nodes: Sequence[dict[str, Any]]) -> list[tuple[str, int]]:
    """``(node id, GPUs)`` of each alive node of ``ray.nodes()`` that has a GPU."""
    found = []
    for node in nodes:
        gpus = int(node.get("Resources", {}).get("GPU", 0))
        if node.get("Alive") and gpus >= 1:
            found.append((str(node["NodeID"]), gpus))
    return found


@contextlib.contextmanager
def _start_servers(ray: Any, serve: ServeConfig) -> Iterator[list[dict[str, Any]]]:
    """One vLLM server on every GPU node, each in an actor pinned to its node that reserves
    the GPUs the server uses (``--tensor-parallel-size``, default all of the node's), so Ray
    hands them to it through ``CUDA_VISIBLE_DEVICES``. Stops them all when the block exits."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = gpu_nodes(ray.nodes())
    if not nodes:
        raise ConfigError(
            "--serve with --ray starts one vLLM server per GPU node, and no alive node of the "
            "cluster has a GPU; start the servers yourself and give --base-url"
        )
    actors = []
    try:
        for node_id, gpus in nodes:
            size = serve.tensor_parallel_size or gpus
            if size > gpus:
                raise ConfigError(
                    f"--tensor-parallel-size {size} needs {size} GPUs, node {node_id} has {gpus}"
                )
            config = replace(serve, tensor_parallel_size=size)
            actor = (
                ray.remote(_Server)
                .options(
                    num_cpus=0,
                    num_gpus=size,
                    max_restarts=0,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
                )
                .remote(config)
            )
            actors.append(actor)
        try:
            infos: list[dict[str, Any]] = ray.get([a.describe.remote() for a in actors])
        except ray.exceptions.RayError as e:
            raise RayRunError(f"a vLLM server did not start on its node: {e}") from None
        for info in infos:
            log.info("run: vLLM server for %s healthy at %s", info["model"], info["base_url"])
        yield infos
    finally:
        for actor in actors:
            with contextlib.suppress(Exception):
                ray.get(actor.stop.remote(), timeout=serve.stop_grace + 30)
            with contextlib.suppress(Exception):
                ray.kill(actor)


def _shard_count(out: Path, options: RayOptions, workers: int) -> int:
    state = out / STATE_FILE
    earlier = None
    if state.exists():
        try:
            earlier = int(json.loads(state.read_text("utf-8"))["shards"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"{state} cannot be read ({e}); rerun with --restart") from None
    if options.shards is not None:
        if earlier is not None and earlier != options.shards:
            raise ConfigError(
                f"{out} holds a Ray run of {earlier} shards, not {options.shards}: rerun with "
                f"--ray-shards {earlier} (or without it) to resume it, or add --restart"
            )
        return options.shards
    return earlier if earlier is not None else 2 * workers


def _restart(out: Path) -> None:
    shutil.rmtree(out / SHARDS_DIR, ignore_errors=True)
    for name in (*RUN_FILES, STATE_FILE):
        (out / name).unlink(missing_ok=True)


def _init(ray: Any, options: RayOptions) -> None:
    try:
        ray.init(address=options.address, include_dashboard=False, logging_level=logging.WARNING)
    except ConnectionError as e:
        raise ConfigError(f"cannot connect to the Ray cluster at {options.address}: {e}") from None


def run_on_ray(config: RunConfig, options: RayOptions) -> Report:
    """Runs ``config`` on a Ray cluster (see the module docs) and returns the merged report.

    Raises:
        ConfigError: Ray is missing, the options do not fit, or the output folder holds a run
            of another configuration.
        RayRunError: some shards failed; the finished ones are kept for the next attempt.
    """
    if config.shard is not None:
        raise ConfigError("--ray cuts the problems into shards itself: leave out --shard")
    if options.serve is not None and config.generate.backend != "openai":
        raise ConfigError(
            f"--serve starts vLLM servers for the openai backend, not {config.generate.backend}"
        )
    out = Path(config.out)
    if (out / "run-state.json").exists() and not config.restart:
        raise ConfigError(
            f"{out} holds a run made without --ray: resume it without --ray, choose another "
            "--out, or add --restart to delete its files and start over"
        )
    if options.serve is not None:
        # Placeholder servers for the checks (servers do not enter the run's state); the
        # servers started on the GPU nodes replace them.
        probe = replace(config.generate, base_url="http://127.0.0.1:1/v1", model=options.serve.name)
        config = replace(config, generate=probe)
    ray = import_ray()
    started = time.monotonic()
    with _folder_lock(out):
        if config.restart:
            _restart(out)
        elif (out / STATE_FILE).exists():
            # An earlier attempt: its shard count and configuration are checked before Ray
            # starts.
            _check_shards(config, _shard_count(out, options, 1))
        _init(ray, options)
        try:
            return _drive(ray, config, options, out, started)
        finally:
            ray.shutdown()


def _check_shards(config: RunConfig, count: int) -> None:
    """Refuses shard folders holding a run of another configuration."""
    for index in range(count):
        check_resumable(_shard_config(config, Shard(index, count), ()))


def _drive(ray: Any, config: RunConfig, options: RayOptions, out: Path, started: float) -> Report:
    alive = [n for n in ray.nodes() if n.get("Alive")]
    workers = options.workers or max(1, len(alive))
    count = _shard_count(out, options, workers)
    shards = [Shard(i, count) for i in range(count)]
    _check_shards(config, count)
    (out / SHARDS_DIR).mkdir(parents=True, exist_ok=True)
    _write_atomic(out / STATE_FILE, json.dumps({"shards": count}).encode() + b"\n")
    log.info(
        "run: %d shard(s) on %d Ray node(s), %d at once, %s CPU(s) each",
        count,
        len(alive),
        workers,
        options.cpus,
    )
    with contextlib.ExitStack() as stack:
        servers: list[dict[str, Any]] = []
        if options.serve is not None:
            servers = stack.enter_context(_start_servers(ray, options.serve))
            urls = [s["base_url"] for s in servers]
            gen = replace(config.generate, base_url=urls, model=servers[0]["model"])
            config = replace(config, generate=gen)
        groups = server_groups(config.generate.base_urls, workers)
        rows = [
            {"index": s.index, "urls": " ".join(groups[s.index % len(groups)]) if groups else ""}
            for s in shards
        ]
        results = _map_shards(ray, rows, config, count, workers, options.cpus)
    failed = [r for r in results if r["error"]]
    _write_atomic(
        out / STATE_FILE,
        orjson.dumps(
            {"shards": count, "results": results, "servers": servers}, option=orjson.OPT_INDENT_2
        ),
    )
    if failed:
        lines = "; ".join(f"shard {r['shard']} on {r['node_ip']}: {r['error']}" for r in failed)
        raise RayRunError(
            f"{len(failed)} of {count} shard(s) failed ({lines}); the other shards are "
            "finished and kept: rerun the same command to resume"
        )
    report = merge([shard_folder(out, s) for s in shards], out)
    report.elapsed = time.monotonic() - started
    data = orjson.loads((out / "report.json").read_bytes())
    data["elapsed_seconds"] = report.elapsed
    data["ray"] = {
        "shards": count,
        "workers": workers,
        "nodes": sorted({r["node_id"] for r in results}),
        "runs": results,
        "servers": servers,
    }
    _write_atomic(out / "report.json", orjson.dumps(data, option=orjson.OPT_INDENT_2))
    report.outputs["config"] = str(out.resolve() / "config.toml")
    return report


def _map_shards(
    ray: Any, rows: list[dict[str, Any]], config: RunConfig, count: int, workers: int, cpus: float
) -> list[dict[str, Any]]:
    """Maps the shard rows through Ray Data, logging each shard as it finishes."""
    from ray.data import DataContext, TaskPoolStrategy

    context = DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    # sfstream says what each shard did; Ray Data's own notes stay out of the way.
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    # One block per shard, so each shard is one task; Ray Data spreads the tasks over the
    # nodes and runs at most ``workers`` at once.
    dataset = ray.data.from_items(rows, override_num_blocks=len(rows)).map(
        _run_shard,
        fn_kwargs={"config": config, "count": count, "cwd": os.getcwd(), "cpus": cpus},
        num_cpus=cpus,
        compute=TaskPoolStrategy(size=min(workers, len(rows))),
    )
    results: list[dict[str, Any]] = []
    rows_done = iter(dataset.iter_rows())
    while True:
        try:
            row = next(rows_done)
        except StopIteration:
            break
        except ray.exceptions.RayError as e:  # a task lost beyond Ray's retries
            raise RayRunError(
                f"the Ray job failed after {len(results)} of {len(rows)} shard(s): {e}; "
                "rerun the same command to resume (finished shards are kept)"
            ) from None
        result = {k: (v.item() if hasattr(v, "item") else v) for k, v in dict(row).items()}
        results.append(result)
        if result["error"]:
            log.warning(
                "run: shard %s failed on %s: %s",
                result["shard"],
                result["node_ip"],
                result["error"],
            )
        elif result["skipped"]:
            log.info("run: shard %s was finished by an earlier attempt", result["shard"])
        else:
            log.info(
                "run: shard %s done on %s (node %s) in %.1f s (%d problem(s), %d verified)",
                result["shard"],
                result["node_ip"],
                str(result["node_id"])[:8],
                result["seconds"],
                result["problems"],
                result["verified"],
            )
    results.sort(key=lambda r: int(str(r["shard"]).split("/")[0]))
    return results
