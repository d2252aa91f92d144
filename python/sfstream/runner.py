"""``sfstream run``: all four stages in one streaming process, resumable from its output folder.

collect → generate → verify → format run concurrently in one task group, joined by bounded
buffers, so generation, sandboxed test execution and writing overlap. The run writes

* ``train.jsonl``: the training examples;
* ``verified.jsonl``: every verified sample, kept or not (nothing generated is lost);
* ``report.json`` and ``report.txt``: records per stage, verdicts, pass rates;
* ``report.html``: one self-contained page with pass@k, histograms, timings and sample
  completions (:mod:`sfstream.report_html`);
* ``config.toml``: the effective configuration (a file ``--config`` reads back);
* ``run-state.json``: what the outputs depend on, checked when the run is resumed;
* ``generate.journal``: every response of the model server as it arrived;
* ``README.md`` and ``data/train-00000-of-00001.parquet``: the examples as a dataset that
  ``datasets.load_dataset(OUT)`` loads, with its dataset card (see :mod:`sfstream.export`).

The output folder is the run's state. Rerunning the same command after a crash (even
``kill -9``) resumes: samples in the journal are not requested again (only the requests that
were in flight are sent again), verified samples already in ``verified.jsonl`` are not
verified again, and ``train.jsonl`` and the report are rebuilt from all of them, so every
example is there exactly once. A folder written with a different configuration is refused;
``restart=True`` (``--restart``) deletes the run's files and starts over.

Files still being written are named ``NAME.partial`` and renamed when the run ends without an
error.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import anyio
import orjson
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from sfstream import export, report_html
from sfstream.errors import ConfigError
from sfstream.export import check_card_free, remove_dataset_files, write_dataset_folder
from sfstream.format import FormatConfig, format_stage
from sfstream.ndjson import NdjsonWriter, decode_line, iter_framed, open_writer
from sfstream.pipeline import StageFn, open_pipeline
from sfstream.progress import ProgressBoard
from sfstream.records import Sample
from sfstream.report import Report
from sfstream.report_details import ReportDetails
from sfstream.report_html import render_html
from sfstream.shard import Shard
from sfstream.templates import load_templates
from sfstream.verify import VerifyConfig, verify_stage

__all__ = ["RunConfig", "effective_config", "load_config", "run", "run_async"]

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows has no flock
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("sfstream")

#: Files of a run in its output folder (``--restart`` deletes these and nothing else).
RUN_FILES = (
    "run-state.json",
    "config.toml",
    "generate.journal",
    "verified.jsonl",
    "verified.jsonl.partial",
    "train.jsonl",
    "train.jsonl.partial",
    "report.json",
    "report.txt",
    "report.html",
)

# Options that change how fast a run goes or where it sends requests, not what it writes: a
# run may be resumed with other values (a server restarted on another port, more workers).
_NOT_IN_STATE = {
    "generate": {
        "base_url",
        "api_key",
        "concurrency",
        "max_concurrency",
        "metrics_interval",
        "timeout",
        "max_retries",
        "batch_size",
        "journal",
    },
    "verify": {"workers"},
}


def _default_generate() -> Any:
    from sfstream.generate import GenerateConfig

    return GenerateConfig(backend="replay")


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Everything ``sfstream run`` needs; the defaults run offline on the bundled sample.

    Attributes:
        sources: What ``collect`` reads (dataset names, files, ``hf:`` ids).
        split: Dataset split.
        limit: Problems per source.
        seed: Shuffle seed for ``limit``.
        data_dir: Directory holding the named datasets.
        decontaminate: ``flag`` or ``drop`` problems that overlap an evaluation benchmark.
        decontaminate_ngram: The n-gram size of that check.
        shard: Run only this shard of the problems (``Shard`` or ``"I/N"``).
        generate: A ``GenerateConfig`` (the replay backend by default).
        verify: Options of the verify stage.
        format: Options of the format stage.
        format_templates: The file ``format.templates`` was read from, if any (recorded in
            the effective configuration).
        out: Directory the run writes into.
        progress: Draw progress on stderr.
        restart: Delete the run's files in ``out`` and start over instead of resuming.
    """

    sources: tuple[str, ...] = ("sample",)
    split: str | None = None
    limit: int | None = None
    seed: int | None = None
    data_dir: str | None = None
    decontaminate: str | None = None
    decontaminate_ngram: int = 13
    shard: Shard | None = None
    generate: Any = field(default_factory=_default_generate)
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    format: FormatConfig = field(default_factory=FormatConfig)
    format_templates: str | None = None
    out: Path = Path("sfstream-out")
    progress: bool = True
    restart: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.shard, str):
            object.__setattr__(self, "shard", Shard.parse(self.shard))


def _section(cls: Any, data: Any, name: str, path: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: [{name}] must be a table")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) in [{name}]: {', '.join(unknown)} "
            f"(known: {', '.join(sorted(known))})"
        )
    try:
        return cls(**data)
    except TypeError as e:
        raise ConfigError(f"{path}: [{name}]: {e}") from None


_COLLECT_KEYS = (
    "sources",
    "split",
    "limit",
    "seed",
    "data_dir",
    "decontaminate",
    "decontaminate_ngram",
    "shard",
)


def load_config(
    path: str | Path | None = None,
    *,
    collect: Mapping[str, Any] | None = None,
    generate: Mapping[str, Any] | None = None,
    verify: Mapping[str, Any] | None = None,
    format: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> RunConfig:
    """Reads a run configuration from a TOML file (all keys optional), with overrides.

    ::

        out = "out"
        [collect]
        sources = ["math500", "apps"]
        limit = 50
        shard = "0/4"
        [generate]
        backend = "openai"
        base_url = "http://127.0.0.1:8000/v1"
        model = "Qwen/Qwen2.5-7B-Instruct"
        n = 4
        [verify]
        workers = 8
        [format]
        style = "seed"
        keep = "first"

    Args:
        path: The TOML file, or None for the defaults.
        collect, generate, verify, format: Keys of those sections that replace the file's
            (what the command-line flags give).
        **overrides: Fields of :class:`RunConfig` (``out``, ``progress``, ``restart``); None
            values are ignored.

    Without a ``backend``, generation uses the OpenAI backend when a ``base_url`` is given and
    the recorded completions (``replay``) otherwise.

    Raises:
        ConfigError: the file cannot be read or holds unknown keys.
    """
    from sfstream.generate import GenerateConfig

    data: dict[str, Any] = {}
    where = str(path) if path else "<defaults>"
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"cannot read config {path}: {e}") from None
    unknown = sorted(set(data) - {"out", "progress", "collect", "generate", "verify", "format"})
    if unknown:
        raise ConfigError(f"{where}: unknown key(s): {', '.join(unknown)}")
    for name in ("collect", "generate", "verify", "format"):
        if not isinstance(data.get(name, {}), dict):
            raise ConfigError(f"{where}: [{name}] must be a table")
    for name, given in (
        ("collect", collect),
        ("generate", generate),
        ("verify", verify),
        ("format", format),
    ):
        if given:
            data[name] = {**data.get(name, {}), **{k: v for k, v in given.items() if v is not None}}
    kwargs: dict[str, Any] = {}
    coll = data.get("collect", {})
    extra = sorted(set(coll) - set(_COLLECT_KEYS))
    if extra:
        raise ConfigError(f"{where}: unknown key(s) in [collect]: {', '.join(extra)}")
    if "sources" in coll:
        sources = coll["sources"]
        if isinstance(sources, str):
            sources = [sources]
        if not isinstance(sources, list | tuple) or not all(isinstance(s, str) for s in sources):
            raise ConfigError(f"{where}: [collect] sources must be a list of strings")
        if sources:
            kwargs["sources"] = tuple(sources)
    for key in ("split", "limit", "seed", "data_dir", "decontaminate", "decontaminate_ngram"):
        if key in coll:
            kwargs[key] = coll[key]
    if coll.get("shard") is not None:
        shard = coll["shard"]
        kwargs["shard"] = shard if isinstance(shard, Shard) else Shard.parse(str(shard))
    gen = dict(data.get("generate", {}))
    if "backend" not in gen:
        gen["backend"] = "openai" if gen.get("base_url") else "replay"
    kwargs["generate"] = _section(GenerateConfig, gen, "generate", where)
    kwargs["verify"] = _section(VerifyConfig, data.get("verify", {}), "verify", where)
    fmt = dict(data.get("format", {}))
    if fmt.get("templates") is not None:
        kwargs["format_templates"] = str(fmt["templates"])
        fmt["templates"] = load_templates(fmt["templates"])
    kwargs["format"] = _section(FormatConfig, fmt, "format", where)
    if "out" in data:
        kwargs["out"] = Path(data["out"])
    if "progress" in data:
        kwargs["progress"] = bool(data["progress"])
    config = RunConfig(**kwargs)
    return replace(config, **{k: v for k, v in overrides.items() if v is not None})


def effective_config(config: RunConfig) -> dict[str, Any]:
    """The configuration as the TOML tables ``load_config`` reads (None values left out)."""
    gen = {
        k: v
        for k, v in dataclasses.asdict(config.generate).items()
        if k not in ("api_key", "journal")
    }
    fmt: dict[str, Any] = {"style": config.format.style, "keep": config.format.keep}
    fmt.update(selection_options(config.format))
    if config.format_templates is not None:
        fmt["templates"] = config.format_templates
    data: dict[str, Any] = {
        "out": str(config.out),
        "collect": {
            "sources": list(config.sources),
            "split": config.split,
            "limit": config.limit,
            "seed": config.seed,
            "data_dir": config.data_dir,
            "decontaminate": config.decontaminate,
            "decontaminate_ngram": config.decontaminate_ngram if config.decontaminate else None,
            "shard": None if config.shard is None else str(config.shard),
        },
        "generate": gen,
        "verify": dataclasses.asdict(config.verify),
        "format": fmt,
    }
    result: dict[str, Any] = _drop_none(data)
    return result


def selection_options(config: FormatConfig) -> dict[str, Any]:
    """The selection options of ``config`` that differ from their defaults, as TOML values."""
    defaults = FormatConfig()
    out: dict[str, Any] = {}
    for name in (
        "seed",
        "max_per_problem",
        "pass_rate",
        "samples_per_problem",
        "mix",
        "mix_by",
        "dedup_problems",
        "dedup_completions",
        "minhash_shingle",
        "minhash_perms",
        "minhash_bands",
        "near_threshold",
    ):
        value = getattr(config, name)
        if value == getattr(defaults, name):
            continue
        if name == "pass_rate":
            value = f"{value[0]:g}:{value[1]:g}"
        elif name == "mix":
            value = dict(value)
        out[name] = value
    return out


def _with_group_size(config: FormatConfig, n: int | None) -> FormatConfig:
    """The format options with the group size of the pass-rate band and the keep policies
    taken from the generation's ``n`` when not given."""
    if config.samples_per_problem is None and n is not None:
        return replace(config, samples_per_problem=n)
    return config


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_drop_none(v) for v in value]
    return value


def _state_of(config: RunConfig) -> dict[str, Any]:
    """What the run's outputs depend on (compared when a run is resumed)."""
    data = effective_config(config)
    data.pop("out", None)
    for section, names in _NOT_IN_STATE.items():
        data[section] = {k: v for k, v in data[section].items() if k not in names}
    if config.format.templates is not None:
        data["format"]["templates"] = {
            k: dataclasses.asdict(v) for k, v in sorted(config.format.templates.items())
        }
    # Through JSON, so tuples and lists compare alike.
    result: dict[str, Any] = json.loads(json.dumps(data, sort_keys=True))
    return result


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items())
        return "{" + items + "}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def to_toml(data: Mapping[str, Any]) -> str:
    """TOML text for a dict of plain values and one level of tables."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for name, table in data.items():
        if isinstance(table, dict):
            lines.append(f"\n[{name}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def _observe(
    report: Report, stage: str, also: Callable[[Any], Awaitable[None]] | None = None
) -> StageFn:
    async def observe(
        receive: MemoryObjectReceiveStream[Any], send: MemoryObjectSendStream[Any]
    ) -> None:
        async with receive, send:
            async for record in receive:
                report.observe(stage, record)
                if also is not None:
                    await also(record)
                await send.send(record)

    return observe


@dataclass(slots=True)
class _Open:
    """A problem whose verified samples are still coming."""

    left: int = 0  # samples expected (once collected) less samples verified
    collected: bool = False
    seen: bool = False
    solved: bool = False


class _ProblemCounts:
    """Counts distinct problems and problems solved per source and domain into a report, in
    memory bounded by the problems in flight rather than by the run's size.

    Collect says how many samples each problem will have (as many as the generate stage asks
    for: ``n``, the problem's own ``generation.n`` over the run's); a problem is forgotten
    once that many verified samples have passed. Where the count cannot be known in advance
    (the replay backend has what was recorded), the problem is kept to the end, as a set of
    ids would keep it.
    """

    def __init__(self, report: Report, generate: Any) -> None:
        from sfstream.backends.base import SamplingParams
        from sfstream.errors import RecordError

        self.report = report
        self.open: dict[str, _Open] = {}

        def expected(problem: Any) -> int | None:
            if generate.backend == "replay":
                return None
            try:
                n: int | None = SamplingParams.resolve(generate, problem).n
            except RecordError:
                n = generate.n  # generate answers with this many error samples
            return n or 1

        self.expected = expected

    def collected(self, problem: Any) -> None:
        n = self.expected(problem)
        entry = self.open.get(problem.id)
        if entry is None:
            entry = self.open[problem.id] = _Open()
        entry.collected = True
        entry.left += n if n is not None else 1 << 62
        self._close(problem.id, entry)

    def verified(self, sample: Sample) -> None:
        if sample.verdict is None:
            return
        entry = self.open.get(sample.id)
        rates = (self.report.by_source[sample.source], self.report.by_domain[sample.domain])
        if entry is None:
            entry = self.open[sample.id] = _Open()
        if not entry.seen:
            entry.seen = True
            for rate in rates:
                rate.more_problems += 1
        if sample.verdict.correct and not entry.solved:
            entry.solved = True
            for rate in rates:
                rate.more_solved += 1
        entry.left -= 1
        self._close(sample.id, entry)

    def _close(self, problem_id: str, entry: _Open) -> None:
        if entry.collected and entry.left <= 0:
            del self.open[problem_id]


def folder_outputs(out: Path) -> dict[str, str]:
    """The files of a finished run's folder (as ``sfstream merge`` writes them too), by role:
    absolute paths for the report's ``outputs``."""
    where = out.resolve()
    return {
        "train": str(where / "train.jsonl"),
        "verified": str(where / "verified.jsonl"),
        "report": str(where / "report.json"),
        "report_html": str(where / "report.html"),
        "config": str(where / "config.toml"),
        "dataset": str(where / "README.md"),
    }


@dataclass
class _Resume:
    """What a run found in its output folder."""

    verified_path: Path
    # Sample indices already verified, per problem id, as a bit mask (one entry per problem).
    kept: dict[str, int] = field(default_factory=dict)
    kept_count: int = 0
    kept_end: int = 0
    journal_samples: int = 0
    resumed: bool = False


_NO_LIMIT = 1 << 40  # lines of verified.jsonl were written by sfstream itself


def check_resumable(config: RunConfig) -> bool:
    """Whether ``config.out`` holds an earlier attempt of this run (to be resumed).

    Raises:
        ConfigError: the folder holds a run of another configuration (unless ``restart``).
    """
    state_path = Path(config.out) / "run-state.json"
    if config.restart or not state_path.exists():
        return False
    try:
        old = json.loads(state_path.read_text(encoding="utf-8"))["config"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{state_path} cannot be read ({e}); rerun with --restart") from None
    state = _state_of(config)
    if old != state:
        changed = sorted(_differences(old, state))
        raise ConfigError(
            f"{config.out} holds a run made with another configuration (differs in: "
            f"{', '.join(changed)}); rerun with the same options to resume it, choose "
            "another --out, or add --restart to delete its files and start over"
        )
    return True


def _prepare_out(config: RunConfig) -> _Resume:
    """Checks the output folder against the configuration and finds what can be reused
    (blocking; run in a thread)."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    check_card_free(out)
    if config.restart:
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
    state_path = out / "run-state.json"
    state = _state_of(config)
    resumed = check_resumable(config)
    if not resumed:
        # A fresh run: nothing of an earlier run without a state file is trusted.
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
        _write_atomic(
            state_path,
            json.dumps({"config": state}, indent=2, sort_keys=True).encode() + b"\n",
        )
    _write_atomic(out / "config.toml", to_toml(effective_config(config)).encode())
    # The report is written last, when the run ends: while it is missing the run is unfinished.
    for name in ("report.json", "report.txt", "report.html"):
        (out / name).unlink(missing_ok=True)
    remove_dataset_files(out)  # the dataset is made from train.jsonl when the run ends
    partial = out / "verified.jsonl.partial"
    final = out / "verified.jsonl"
    if final.exists() and not partial.exists():
        final.replace(partial)  # a finished run rerun: its samples are kept, not verified again
    else:
        final.unlink(missing_ok=True)
    resume = _Resume(partial, resumed=resumed)
    if partial.exists():
        with open(partial, "r+b") as f:
            for line in iter_framed(f, _NO_LIMIT):
                if not line.terminated:
                    break  # cut short by a crash
                try:
                    row = decode_line(line.raw, _NO_LIMIT)
                    key = (row["id"], row["sample_index"]) if row else None
                except (ValueError, KeyError, TypeError):
                    key = None
                if key is None:
                    break  # only a crash writes a bad line, and it is the last one
                problem_id, index = key
                mask = resume.kept.get(problem_id, 0)
                if not (mask >> index) & 1:
                    resume.kept[problem_id] = mask | (1 << index)
                    resume.kept_count += 1
                resume.kept_end = line.offset + line.size + 1
            f.truncate(resume.kept_end)
    journal = out / "generate.journal"
    if journal.exists():
        with open(journal, "rb") as f:
            resume.journal_samples = sum(
                chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b"")
            )
    return resume


def _differences(old: Any, new: Any, prefix: str = "") -> set[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: set[str] = set()
        for key in set(old) | set(new):
            out |= _differences(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    return set() if old == new else {prefix.rstrip(".")}


@contextmanager
def _folder_lock(out: Path) -> Iterator[None]:
    """Holds an exclusive lock on the output folder, so two runs never write into one."""
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_RDONLY)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise ConfigError(f"{out} is in use by another sfstream run") from None
        yield
    finally:
        os.close(fd)  # releases the lock


def _buffer(size: int) -> StageFn:
    """Passes records on through a buffer of ``size``: placed after generate, it lets the
    generation requests go on while verify works through a burst of completions (with the
    pipeline's small buffers, the workers of generate would wait to hand their samples over,
    holding them anyway, and send no new request meanwhile)."""

    async def stage(
        receive: MemoryObjectReceiveStream[Any], send: MemoryObjectSendStream[Any]
    ) -> None:
        inner_send, inner_receive = anyio.create_memory_object_stream[Any](size)

        async def fill() -> None:
            async with receive, inner_send:
                async for record in receive:
                    await inner_send.send(record)

        async with send, inner_receive, anyio.create_task_group() as tg:
            tg.start_soon(fill)
            async for record in inner_receive:
                await send.send(record)

    return stage


def _skip_kept(kept: dict[str, int]) -> StageFn:
    """Drops samples already verified by an earlier attempt of the run."""

    async def stage(
        receive: MemoryObjectReceiveStream[Any], send: MemoryObjectSendStream[Any]
    ) -> None:
        async with receive, send:
            async for sample in receive:
                if not (kept.get(sample.id, 0) >> sample.sample_index) & 1:
                    await send.send(sample)

    return stage


def _with_kept(path: Path, end: int) -> StageFn:
    """Emits the samples an earlier attempt verified (read back from ``verified.jsonl``),
    then the stream's own."""

    def read_chunk(f: Any, size: int) -> bytes:
        data: bytes = f.read(size)
        return data

    async def stage(
        receive: MemoryObjectReceiveStream[Any], send: MemoryObjectSendStream[Any]
    ) -> None:
        async with receive, send:
            if end:
                f = await anyio.to_thread.run_sync(open, path, "rb")
                try:
                    left = end
                    rest = b""
                    while left > 0:
                        chunk = await anyio.to_thread.run_sync(read_chunk, f, min(left, 1 << 20))
                        if not chunk:
                            break
                        left -= len(chunk)
                        *lines, rest = (rest + chunk).split(b"\n")
                        for raw in lines:
                            row = decode_line(raw, _NO_LIMIT)  # integers of any size exact
                            if row is not None:
                                await send.send(Sample.from_dict(row))
                finally:
                    f.close()
            async for sample in receive:
                await send.send(sample)

    return stage


@asynccontextmanager
async def _append_writer(path: Path) -> AsyncIterator[NdjsonWriter]:
    """An NDJSON writer appending to ``path`` (each batch flushed: a kill loses nothing that
    was written)."""
    f = await anyio.to_thread.run_sync(open, path, "ab")
    try:
        yield NdjsonWriter(f, str(path))
    finally:
        f.close()


def _warm_up_outputs() -> None:
    try:
        export.warm_up()
        report_html.warm_up()
    except Exception:
        log.debug("warming up the run's outputs failed", exc_info=True)


async def run_async(
    config: RunConfig | None = None, writers: dict[str, NdjsonWriter] | None = None
) -> Report:
    """Runs the whole pipeline; see :func:`run`.

    Args:
        config: The run's configuration (defaults: offline on the bundled sample).
        writers: Filled with the open writers by role, so a caller can say what was written
            even when the run is interrupted.
    """
    from sfstream.collect import collect
    from sfstream.generate import generate_stage

    config = config or RunConfig()
    writers = writers if writers is not None else {}
    # Each sample is measured once for the page, when it is verified. Distinct problems are
    # counted by the run itself, in bounded memory.
    report = Report(details=ReportDetails(measure_generated=False), problem_ids=False)
    board = ProgressBoard(enabled=config.progress)
    started = time.monotonic()
    out = Path(config.out)
    generate = config.generate
    if generate.journal is None:
        generate = replace(generate, journal=str(out / "generate.journal"))
    # Checked before the folder is touched.
    gen_stage = generate_stage(generate, gen_progress := board.stage("generate"))
    counts = _ProblemCounts(report, generate)

    async def count_collected(problem: Any) -> None:
        counts.collected(problem)

    async def count_verified(sample: Any) -> None:
        counts.verified(sample)

    with _folder_lock(out):
        resume = await anyio.to_thread.run_sync(_prepare_out, config)
        if resume.resumed:
            log.info(
                "run: resuming %s: %d verified sample(s) kept (not verified again), %d sample(s) "
                "in the generation journal (not requested again)",
                out,
                resume.kept_count,
                resume.journal_samples,
            )
        source = collect(
            list(config.sources),
            split=config.split,
            limit=config.limit,
            seed=config.seed,
            data_dir=config.data_dir,
            decontaminate=config.decontaminate,
            decontaminate_ngram=config.decontaminate_ngram,
        )
        if config.shard is not None:
            source = config.shard.filter(source)
        async with (
            _append_writer(resume.verified_path) as verified,
            open_writer(out / "train.jsonl") as train,
        ):
            writers["verified"], writers["train"] = verified, train
            stages = [
                _observe(report, "collect", count_collected),
                gen_stage,
                # As many samples as generate has requests in flight.
                _buffer(
                    generate.max_concurrency
                    if generate.concurrency == "auto"
                    else generate.concurrency
                ),
                _observe(report, "generate"),
                _skip_kept(resume.kept),
                verify_stage(config.verify, board.stage("verify")),
                _observe(report, "verified", verified.write),
                _with_kept(resume.verified_path, resume.kept_end),
                _observe(report, "verify", count_verified),
                format_stage(
                    _with_group_size(config.format, generate.n),
                    board.stage("format"),
                    counts=report.selection,
                ),
                _observe(report, "format"),
            ]
            async with anyio.create_task_group() as tg:
                tg.start_soon(board.run)
                # What the last outputs need is imported while the stages run, not after them.
                tg.start_soon(anyio.to_thread.run_sync, _warm_up_outputs)
                async with open_pipeline(source, stages) as examples:
                    batch: list[Any] = []
                    async for example in examples:
                        batch.append(example)
                        # Write what is at hand in one go; never hold records back waiting.
                        while len(batch) < 256:
                            try:
                                batch.append(examples.receive_nowait())
                            except (anyio.WouldBlock, anyio.EndOfStream):
                                break
                        await train.write_many(batch)
                        batch.clear()
                tg.cancel_scope.cancel()
            board.finish()
        resume.verified_path.replace(out / "verified.jsonl")
        report.elapsed = time.monotonic() - started
        verified_now = report.stages.pop("verified", 0)
        report.resumed = {
            "verified_kept": resume.kept_count,
            "verified_now": verified_now,
            "generated_now": gen_progress.samples - gen_progress.reused,
            "reused_from_journal": gen_progress.reused,
        }
        report.outputs = folder_outputs(out)
        summary = report.to_dict()
        await anyio.to_thread.run_sync(
            lambda: write_dataset_folder(out, effective_config(config), summary)
        )
        _write_atomic(out / "report.txt", (report.to_text() + "\n").encode())
        html = await anyio.to_thread.run_sync(render_html, report)
        _write_atomic(out / "report.html", html.encode())
        # Last: a folder with report.json holds a finished run (merge relies on it).
        data = orjson.dumps(summary, option=orjson.OPT_INDENT_2)
        _write_atomic(out / "report.json", data)
        return report


def run(config: RunConfig | None = None) -> Report:
    """Runs collect → generate → verify → format in one process and writes the results.

    With no configuration it runs offline on the sample bundled in the package, answering
    generation requests from recorded completions of real models.

    Args:
        config: The run's configuration.

    Returns:
        The run's report (also written to ``OUT/report.json`` and ``OUT/report.txt``).

    Example:
        >>> report = sfstream.run(sfstream.RunConfig(out=Path("out")))  # doctest: +SKIP
        >>> report.stages["format"] > 0  # doctest: +SKIP
        True
    """
    return anyio.run(run_async, config)
