"""Training-ready output: examples as Parquet, and a run's folder as a Hugging Face dataset.

``format -o FILE.parquet`` writes its examples as Parquet with :class:`ParquetExampleWriter`:
rows are buffered into row groups of at most :data:`ROW_GROUP_ROWS` rows or about
:data:`ROW_GROUP_BYTES` bytes of JSON, each written as soon as it is full, so the whole dataset
is never held in memory. The file is written as ``FILE.parquet.partial`` and renamed when the
writer closes without an error (as the NDJSON writer does): a killed run never leaves a
truncated file that looks complete.

The columns are those of the example record, one per field, with one change: ``meta`` (whose
keys differ between sources and may hold integers of any size) is its JSON text. Each style
adds its own columns (:func:`example_schema`).

:func:`write_dataset_folder` makes the output folder of ``sfstream run`` (and of ``merge``) a
folder that ``datasets.load_dataset(DIR)`` loads as it is: the examples of ``train.jsonl`` in
``data/train-00000-of-00001.parquet``, and a dataset card, ``README.md``, whose YAML header
names that file as the ``train`` split (so the run's other files are never read as data) and
whose text gives the counts, the sources and their licenses, the model, the sampling
parameters, the filters applied and the sfstream version.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import anyio

from sfstream import _exactjson
from sfstream._core import __version__
from sfstream.errors import ConfigError
from sfstream.format import STYLES
from sfstream.ndjson import iter_objects, open_writer

__all__ = [
    "CARD",
    "DATA_FILE",
    "ROW_GROUP_BYTES",
    "ROW_GROUP_ROWS",
    "ParquetExampleWriter",
    "ParquetStats",
    "RecordWriter",
    "dataset_card",
    "example_row",
    "example_schema",
    "is_parquet",
    "open_examples_writer",
    "open_parquet_writer",
    "remove_dataset_files",
    "row_example",
    "write_dataset_folder",
    "write_parquet",
]

#: Most rows in one row group.
ROW_GROUP_ROWS = 1000
#: About the most bytes (of the rows' JSON) in one row group.
ROW_GROUP_BYTES = 32 * 1024 * 1024

#: The dataset card of a run folder.
CARD = "README.md"
#: The Parquet file of a run folder, named as the Hugging Face hub names one-shard splits.
DATA_FILE = "data/train-00000-of-00001.parquet"
#: The first line of the card's text: a README.md without it was not written by sfstream and
#: is never overwritten or deleted.
CARD_MARK = "<!-- Dataset card written by sfstream. It is rewritten when the run ends. -->"

_TURN = (("role", "string"), ("content", "string"))
_STYLE_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "messages": (),
    "seed": (("text", "string"),),
    "sharegpt": (("conversations", "from/value"),),
    "alpaca": (
        ("instruction", "string"),
        ("input", "string"),
        ("output", "string"),
        ("system", "string"),
    ),
}


class RecordWriter(Protocol):
    """What the command line writes records through (NDJSON or Parquet)."""

    name: str
    written: int

    async def write(self, record: Any) -> None:
        """Writes one record."""

    async def write_many(self, records: list[Any]) -> None:
        """Writes several records."""


def is_parquet(path: str | Path) -> bool:
    """Whether an output path asks for Parquet (its name ends in ``.parquet``)."""
    return str(path) != "-" and str(path).lower().endswith(".parquet")


def _columns(style: str) -> list[tuple[str, str]]:
    if style not in _STYLE_COLUMNS:
        raise ConfigError(f"unknown style {style!r} (use one of {', '.join(STYLES)})")
    return [
        ("id", "string"),
        ("domain", "string"),
        ("source", "string"),
        ("messages", "role/content"),
        *_STYLE_COLUMNS[style],
        ("meta", "string"),
    ]


def example_schema(style: str) -> Any:
    """The Parquet (Arrow) schema of the examples of ``style``.

    Every style has ``id``, ``domain``, ``source`` (strings), ``messages`` (a list of
    ``{role, content}``) and ``meta`` (the JSON text of the meta object); ``seed`` adds
    ``text``, ``sharegpt`` adds ``conversations`` (a list of ``{from, value}``) and ``alpaca``
    adds ``instruction``, ``input``, ``output`` and ``system``.
    """
    import pyarrow as pa

    def arrow(kind: str) -> Any:
        if kind == "string":
            return pa.string()
        first, second = kind.split("/")
        return pa.list_(pa.struct([(first, pa.string()), (second, pa.string())]))

    return pa.schema([(name, arrow(kind)) for name, kind in _columns(style)])


def example_row(example: Any, style: str) -> dict[str, Any]:
    """The Parquet row of an example (an ``Example`` or its dict), ``meta`` as JSON text.

    Raises:
        ConfigError: the example has a field the layout of ``style`` has no column for (an
            example of another style).
    """
    data: Mapping[str, Any] = example.to_dict() if hasattr(example, "to_dict") else example
    names = [name for name, _ in _columns(style)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(
            f"example {data.get('id')!r} has field(s) {', '.join(unknown)}, which the Parquet "
            f"layout of style {style!r} has no column for (was it formatted in another style?)"
        )
    row = {name: data.get(name) for name in names}
    row["meta"] = _exactjson.dumps(data.get("meta") or {}).decode("utf-8")
    return row


def row_example(row: Mapping[str, Any]) -> dict[str, Any]:
    """The example dict of a Parquet row (``meta`` parsed back, empty style columns of
    other styles left out): the inverse of :func:`example_row`."""
    out = {k: v for k, v in row.items() if v is not None}
    out["meta"] = _exactjson.loads(row["meta"]) if row.get("meta") else {}
    return out


class ParquetExampleWriter:
    """Writes examples of one style to an open ``pyarrow.parquet.ParquetWriter`` in row groups
    of bounded size (blocking work runs in a worker thread).

    Attributes:
        written: Examples written so far (buffered ones included).
        name: The file being written.
    """

    def __init__(
        self,
        writer: Any,
        style: str,
        name: str,
        *,
        row_group_rows: int = ROW_GROUP_ROWS,
        row_group_bytes: int = ROW_GROUP_BYTES,
    ) -> None:
        self._writer = writer
        self._schema = writer.schema
        self.style = style
        self.name = name
        self.written = 0
        self.row_groups = 0
        self.nbytes = 0  # Arrow bytes of the rows written (the size datasets records)
        self._rows: list[dict[str, Any]] = []
        self._bytes = 0
        self._max_rows = row_group_rows
        self._max_bytes = row_group_bytes

    def _add(self, record: Any) -> bool:
        """Buffers one record; whether the buffer is now a full row group."""
        row = example_row(record, self.style)
        self._rows.append(row)
        self._bytes += sum(len(v) for v in row.values() if isinstance(v, str))
        for name in ("messages", "conversations"):
            for turn in row.get(name) or ():
                self._bytes += sum(len(v) for v in turn.values() if isinstance(v, str))
        self.written += 1
        return len(self._rows) >= self._max_rows or self._bytes >= self._max_bytes

    def _flush_sync(self) -> None:
        import pyarrow as pa

        if not self._rows:
            return
        rows, self._rows, self._bytes = self._rows, [], 0
        table = pa.Table.from_pylist(rows, schema=self._schema)
        self._writer.write_table(table, row_group_size=len(rows))
        self.row_groups += 1
        self.nbytes += table.nbytes

    def write_sync(self, record: Any) -> None:
        """Writes one record, blocking (a full row group is written at once)."""
        if self._add(record):
            self._flush_sync()

    async def write(self, record: Any) -> None:
        """Writes one record."""
        await self.write_many([record])

    async def write_many(self, records: list[Any]) -> None:
        """Writes several records; each row group is written as soon as it is full."""
        for record in records:
            if self._add(record):
                await anyio.to_thread.run_sync(self._flush_sync)

    def close_sync(self) -> None:
        """Writes the last row group and the file's footer."""
        self._flush_sync()
        self._writer.close()


def warm_up() -> None:
    """Imports pyarrow's Parquet writer now (about half a second), so that a caller can do it
    while other work runs rather than when the dataset is written."""
    import pyarrow.parquet  # noqa: F401


def _open_parquet(path: Path, style: str) -> Any:
    import pyarrow.parquet as pq

    return pq.ParquetWriter(str(path), example_schema(style), compression="zstd")


def _publish(partial: Path, final: Path) -> None:
    with open(partial, "rb") as f:
        os.fsync(f.fileno())
    partial.replace(final)


@asynccontextmanager
async def open_parquet_writer(
    path: str | Path, style: str, **limits: int
) -> AsyncIterator[ParquetExampleWriter]:
    """Opens a Parquet writer for examples of ``style`` on ``path``.

    The file is written to ``PATH.partial`` and renamed into place only when the writer closes
    without an error; after an error (or a kill) only the ``.partial`` file is left.

    Args:
        path: The ``.parquet`` file to write.
        style: The format style of the examples (decides the columns).
        **limits: ``row_group_rows`` and ``row_group_bytes`` for :class:`ParquetExampleWriter`.
    """
    example_schema(style)  # an unknown style fails before the file is made
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(final.name + ".partial")
    raw = await anyio.to_thread.run_sync(_open_parquet, partial, style)
    writer = ParquetExampleWriter(raw, style, str(final), **limits)
    try:
        yield writer
    except BaseException:
        raw.close()
        writer.name = str(partial)
        raise
    await anyio.to_thread.run_sync(writer.close_sync)
    await anyio.to_thread.run_sync(_publish, partial, final)


def open_examples_writer(path: str | Path, style: str) -> AbstractAsyncContextManager[RecordWriter]:
    """The writer for ``format``'s output: Parquet when ``path`` ends in ``.parquet``, NDJSON
    for any other path and for ``-`` (stdout)."""
    if is_parquet(path):
        return open_parquet_writer(path, style)
    return open_writer(path)


class ParquetStats(NamedTuple):
    """What :func:`write_parquet` wrote."""

    rows: int
    row_groups: int
    nbytes: int


def write_parquet(
    examples: Iterable[Any], path: str | Path, style: str, **limits: int
) -> ParquetStats:
    """Writes examples (records or dicts) to a Parquet file, blocking, through
    ``PATH.partial``."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(final.name + ".partial")
    writer = ParquetExampleWriter(_open_parquet(partial, style), style, str(final), **limits)
    try:
        for example in examples:
            writer.write_sync(example)
        writer.close_sync()
    except BaseException:
        writer._writer.close()
        raise
    _publish(partial, final)
    return ParquetStats(writer.written, writer.row_groups, writer.nbytes)


# --- the run folder as a dataset ----------------------------------------------------------


def _is_our_card(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return CARD_MARK in f.read(64 * 1024)
    except FileNotFoundError:
        return True


def check_card_free(out: Path) -> None:
    """Raises ConfigError when ``out`` holds a README.md sfstream did not write (the run would
    have to overwrite it with its dataset card)."""
    card = Path(out) / CARD
    if card.exists() and not _is_our_card(card):
        raise ConfigError(
            f"{card} was not written by sfstream; the run writes its dataset card there: "
            "choose another --out"
        )


def remove_dataset_files(out: Path) -> None:
    """Deletes the dataset card and Parquet file of an earlier run in ``out`` (a README.md
    sfstream did not write is left alone)."""
    out = Path(out)
    for name in (DATA_FILE, DATA_FILE + ".partial", CARD + ".partial"):
        (out / name).unlink(missing_ok=True)
    if _is_our_card(out / CARD):
        (out / CARD).unlink(missing_ok=True)


def _yaml_str(value: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(value, ensure_ascii=False)


def _features_yaml(style: str) -> list[str]:
    lines = ["  features:"]
    for name, kind in _columns(style):
        lines.append(f"  - name: {name}")
        if kind == "string":
            lines.append("    dtype: string")
        else:
            lines.append("    list:")
            for field in kind.split("/"):
                lines += [f"    - name: {field}", "      dtype: string"]
    return lines


def _licenses(sources: Iterable[str]) -> dict[str, tuple[str | None, str | None]]:
    """(license, rights) of each source sfstream knows by name."""
    from sfstream.collect import DATASETS

    out: dict[str, tuple[str | None, str | None]] = {}
    for source in sources:
        spec = DATASETS.get(source)
        if spec is not None:
            out[source] = (spec.license, spec.rights)
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(_fmt(v) for v in value) or "—"
    if isinstance(value, dict):
        return "`" + json.dumps(value, ensure_ascii=False, sort_keys=True) + "`"
    return str(value)


def _cell(value: Any) -> str:
    return _fmt(value).replace("|", "\\|").replace("\n", " ")


_FIELDS = {
    "id": "The problem's id and the sample index, `ID#INDEX`.",
    "domain": "`math` or `code`.",
    "source": "The dataset the problem came from.",
    "messages": "The conversation: system, user and assistant turns (`role`, `content`).",
    "text": "The whole example as one text: the system line, the prompt and the solution, "
    "closed by the final answer (math) or the final program (code).",
    "conversations": "The same turns in ShareGPT form (`from`: system, human, gpt; `value`).",
    "instruction": "The user turn (the prompt).",
    "input": "Empty: the problem is part of the instruction.",
    "output": "The assistant turn (the model's solution).",
    "system": "The system line.",
    "meta": "JSON text: the problem's metadata, `sample_index`, `model`, `status`, for code "
    "`tests_passed` and `tests_total`, and `completion_tokens` when known.",
}

_STAGE_NAMES = (
    ("collect", "problems collected"),
    ("generate", "samples generated"),
    ("verify", "samples verified"),
    ("format", "training examples"),
)


def dataset_card(
    config: Mapping[str, Any],
    report: Mapping[str, Any],
    examples_by_source: Mapping[str, int],
    *,
    examples_by_model: Mapping[str, int] | None = None,
    num_bytes: int | None = None,
    title: str = "sfstream dataset",
) -> str:
    """The dataset card (README.md) of a run folder.

    Args:
        config: The run's configuration as the tables of ``config.toml`` (``collect``,
            ``generate``, ``verify``, ``format``).
        report: The run's report (``report.json``).
        examples_by_source: Examples written per source.
        examples_by_model: Examples written per model (``meta.model``).
        num_bytes: The Arrow size of the examples (``dataset_info``'s ``num_bytes``).
        title: The card's heading.
    """
    style = str(config.get("format", {}).get("style", "messages"))
    collect = config.get("collect", {})
    gen = config.get("generate", {})
    verify = config.get("verify", {})
    fmt = config.get("format", {})
    stages = report.get("stages", {})
    by_source: Mapping[str, Mapping[str, Any]] = report.get("by_source", {})
    sources = sorted(set(by_source) | set(examples_by_source))
    licenses = _licenses(sources)
    total = sum(examples_by_source.values())
    # The card's one license: the sources' own when they all share one, else "other".
    spdx = {licenses[s][0] if s in licenses else None for s in sources}
    only = next(iter(spdx)) if len(spdx) == 1 else None
    card_license = only.lower() if only else "other"
    domains = sorted(report.get("by_domain", {}))
    header = [
        "---",
        f"license: {card_license}",
        "language:",
        "- en",
        "tags:",
        "- sfstream",
        "- synthetic",
        "- reasoning",
        *(f"- {d}" for d in domains),
        "task_categories:",
        "- text-generation",
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - split: train",
        f"    path: {_yaml_str(DATA_FILE.replace('00000-of-00001', '*'))}",
        "dataset_info:",
        *_features_yaml(style),
        "  splits:",
        "  - name: train",
        *([f"    num_bytes: {num_bytes}"] if num_bytes is not None else []),
        f"    num_examples: {total}",
        "---",
    ]
    models = dict(examples_by_model or {})
    model = gen.get("model")
    made_by = (
        f"`{model}`"
        if model
        else ", ".join(f"`{m}`" for m in sorted(models))
        if models
        else "a model"
    )
    lines = [
        CARD_MARK,
        "",
        f"# {title}",
        "",
        f"{total} verified step-by-step training examples in the `{style}` layout, made by "
        f"sfstream {__version__} from the completions of {made_by}"
        + (" (recorded completions, replayed)" if gen.get("backend") == "replay" else "")
        + ". Only samples whose answer checked out (math) or whose program passed every test "
        "(code) became examples.",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        'rows = load_dataset("path/to/this/folder", split="train")',
        "```",
        "",
        "## Counts",
        "",
        "| Stage | Records |",
        "|---|---:|",
        *(f"| {label} | {stages[s]} |" for s, label in _STAGE_NAMES if s in stages),
        "",
    ]
    statuses: Mapping[str, int] = report.get("statuses", {})
    if statuses:
        lines += ["| Verdict | Samples |", "|---|---:|"]
        lines += [f"| {k} | {v} |" for k, v in statuses.items()]
        lines.append("")
    low = report.get("low_quality", {})
    if low:
        lines += ["| Quality threshold failed | Samples |", "|---|---:|"]
        lines += [f"| {k} | {v} |" for k, v in low.items()]
        lines.append("")
    lines += [
        "## Sources",
        "",
        "| Source | Problems | Solved | Verified samples | Correct | Pass rate | Examples | "
        "License | Other rights |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for source in sources:
        rate = by_source.get(source, {})
        lic, rights = licenses.get(source, (None, None))
        known = source in licenses
        pass_rate = rate.get("pass_rate")
        lines.append(
            f"| {source} | {_cell(rate.get('problems'))} | {_cell(rate.get('problems_solved'))} "
            f"| {_cell(rate.get('verified'))} | {_cell(rate.get('correct'))} "
            f"| {'—' if pass_rate is None else f'{100 * pass_rate:.1f}%'} "
            f"| {examples_by_source.get(source, 0)} "
            f"| {lic or ('none stated' if known else 'unknown: see the source')} "
            f"| {_cell(rights) if known else 'unknown: see the source'} |"
        )
    lines += [
        "",
        "The licenses are those of the source datasets; where they do not cover the problem "
        "statements, the last column names who holds them. The completions are the model's "
        "outputs: its terms of use apply to them.",
        "",
        "## Generation",
        "",
        "| Parameter | Value |",
        "|---|---|",
    ]
    for key, label in (
        ("model", "model"),
        ("backend", "backend"),
        ("endpoint", "endpoint"),
        ("n", "samples per problem (n)"),
        ("temperature", "temperature (default: math 0.7, code 0.8)"),
        ("top_p", "top_p"),
        ("max_tokens", "max_tokens (default: math 512, code 1024)"),
        ("seed", "seed"),
        ("stop", "stop"),
        ("extra_body", "extra request fields"),
    ):
        lines.append(f"| {label} | {_cell(gen.get(key))} |")
    lines += ["", "A dash means the backend's default."]
    if models:
        lines += ["", "| Model | Examples |", "|---|---:|"]
        lines += [f"| {m} | {c} |" for m, c in sorted(models.items(), key=lambda kv: -kv[1])]
    lines += ["", "## Filters", ""]
    lines.append(
        "- collect: sources "
        + _cell(collect.get("sources"))
        + f", split {_cell(collect.get('split'))}, limit {_cell(collect.get('limit'))}, "
        f"shuffle seed {_cell(collect.get('seed'))}, decontamination "
        + (
            f"`{collect['decontaminate']}` ({collect.get('decontaminate_ngram', 13)}-grams)"
            if collect.get("decontaminate")
            else "off"
        )
        + (f", shard {collect['shard']}" if collect.get("shard") else "")
        + (f", merged from shards {_fmt(report['shards'])}" if report.get("shards") else "")
        + "."
    )
    thresholds = {
        k: verify.get(k)
        for k in (
            "min_steps",
            "max_completion_tokens",
            "max_test_time_ratio",
            "min_explanation_chars",
        )
        if verify.get(k) is not None
    }
    lines.append(
        "- verify: kept only `correct` verdicts; code tests "
        f"{_cell(verify.get('time_limit'))} s and {_cell(verify.get('memory_mb'))} MB per case; "
        f"math answers {'strictly marked' if verify.get('math_strict') else 'marked or stated'}"
        f", relative tolerance {_cell(verify.get('math_rel_tol'))}; quality thresholds "
        + (", ".join(f"`{k}` {_fmt(v)}" for k, v in thresholds.items()) or "none")
        + "."
    )
    lines.append(
        f"- format: style `{style}`, keep `{fmt.get('keep', 'all')}` correct sample(s) per problem."
    )
    lines += ["", "## Fields", "", "| Column | Content |", "|---|---|"]
    lines += [f"| `{name}` | {_FIELDS[name]} |" for name, _ in _columns(style)]
    lines += [
        "",
        "## Reproduce",
        "",
        f"Made by sfstream {__version__}. The run's folder holds its configuration: "
        "`sfstream run --config config.toml` makes it again (a run with the replay backend or "
        "a seed gives the same examples).",
        "",
    ]
    return "\n".join(header) + "\n" + "\n".join(lines)


def _examples_of(
    path: Path, sources: Counter[str], models: Counter[str]
) -> Iterable[dict[str, Any]]:
    with open(path, "rb") as f:
        # sfstream wrote the file: no line is too long to read back.
        for _, obj in iter_objects(f, source=str(path), max_line_bytes=1 << 40):
            sources[str(obj.get("source"))] += 1
            model = (obj.get("meta") or {}).get("model")
            if model:
                models[str(model)] += 1
            yield obj


def write_dataset_folder(
    out: Path, config: Mapping[str, Any], report: Mapping[str, Any], *, title: str | None = None
) -> Path:
    """Makes ``out`` a dataset ``datasets.load_dataset(out)`` loads: the examples of
    ``out/train.jsonl`` as ``out/data/train-00000-of-00001.parquet`` and the dataset card
    ``out/README.md`` (blocking). Returns the card's path.

    Raises:
        ConfigError: ``out`` holds a README.md sfstream did not write.
    """
    out = Path(out)
    check_card_free(out)
    style = str(config.get("format", {}).get("style", "messages"))
    sources: Counter[str] = Counter()
    models: Counter[str] = Counter()
    stats = write_parquet(
        _examples_of(out / "train.jsonl", sources, models), out / DATA_FILE, style
    )
    card = dataset_card(
        config,
        report,
        sources,
        examples_by_model=models,
        num_bytes=stats.nbytes,
        title=title or out.resolve().name,
    )
    partial = out / (CARD + ".partial")
    partial.write_text(card, encoding="utf-8")
    _publish(partial, out / CARD)
    return out / CARD
