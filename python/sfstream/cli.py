"""The ``sfstream`` command: each stage an NDJSON filter from stdin to stdout, and ``run``.

    sfstream collect sample | sfstream generate --base-url URL --model M \\
        | sfstream verify | sfstream format > train.jsonl

Records go to stdout, logs and progress to stderr. Exit status: 0 on success, 1 on a pipeline
fault (with one line saying what and where), 2 on bad usage, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, NoReturn

import anyio
import orjson

from sfstream import __version__
from sfstream.errors import ConfigError, RecordError, SfstreamError
from sfstream.export import RecordWriter, is_parquet, open_examples_writer
from sfstream.ndjson import (
    DEFAULT_MAX_LINE_BYTES,
    NdjsonWriter,
    ReadStats,
    open_writer,
    read_records,
)
from sfstream.pipeline import StageFn, first_error, open_pipeline
from sfstream.progress import ProgressBoard, StageProgress
from sfstream.records import Problem, Sample, record_from_dict

__all__ = ["main"]

log = logging.getLogger("sfstream")


def _reading(what: str, want: str, parse: Callable[[dict[str, Any]], Any]) -> Any:
    """A parser that names the record kind a stage expects when it gets another."""

    def parse_for_stage(d: dict[str, Any]) -> Any:
        kind = (
            "an example"
            if "messages" in d
            else "a verified sample"
            if "verdict" in d
            else "a sample"
            if "completion" in d
            else "a problem"
        )
        if want == "problem" and kind != "a problem":
            raise RecordError(f"{what} reads problems (the output of collect), got {kind}")
        if want == "sample" and kind in ("a problem", "an example"):
            raise RecordError(f"{what} reads samples (the output of generate), got {kind}")
        if want == "verified" and kind != "a verified sample":
            raise RecordError(f"{what} reads verified samples (the output of verify), got {kind}")
        return parse(d)

    return parse_for_stage


def _common(p: argparse.ArgumentParser, *, reads: bool = True) -> None:
    if reads:
        p.add_argument(
            "-i", "--input", default="-", metavar="PATH", help="NDJSON input (default: - for stdin)"
        )
        p.add_argument(
            "--on-error",
            choices=["fail", "skip"],
            default="fail",
            help="a malformed input line stops the run (fail, default) or is "
            "reported on stderr and skipped (skip)",
        )
        p.add_argument(
            "--max-line-bytes",
            type=int,
            default=DEFAULT_MAX_LINE_BYTES,
            metavar="N",
            help="longest input line accepted (default: 64 MiB)",
        )
    p.add_argument(
        "-o", "--output", default="-", metavar="PATH", help="NDJSON output (default: - for stdout)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress or info logs")


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _concurrency(text: str) -> int | str:
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return _positive(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a positive integer or auto") from None


def _shard(text: str) -> Any:
    from sfstream.shard import Shard

    try:
        return Shard.parse(text)
    except SfstreamError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


class _Options:
    """Adds one stage's options to a parser. Each option is defined once, here, and serves
    both its stage command and ``run``. Destinations are ``STAGE.FIELD`` (the field of the
    stage's config); for ``run`` no default is set, so a flag overrides the TOML file only
    when given, and flags that two stages share get a longer name there."""

    def __init__(self, p: argparse.ArgumentParser, stage: str, *, run: bool) -> None:
        self.p, self.stage, self.run = p, stage, run

    def add(
        self, *flags: str, field: str, run_flags: Sequence[str] | None = None, **kw: Any
    ) -> None:
        if self.run:
            kw.pop("default", None)
            if run_flags is not None:
                flags = tuple(run_flags)
        kw.setdefault("default", None)
        self.p.add_argument(*flags, dest=f"{self.stage}.{field}", **kw)


def _collect_options(p: argparse.ArgumentParser, *, run: bool = False) -> None:
    o = _Options(p, "collect", run=run)
    p.add_argument(
        "collect.sources",
        nargs="*" if run else "+",
        metavar="SOURCE",
        help="dataset name (sample, math, math500, aime24, aime25, apps, ...), a "
        ".jsonl/.json/.parquet file, or hf:ORG/NAME"
        + (" (default: the [collect] sources of --config, else sample)" if run else ""),
    )
    o.add("--split", field="split", choices=["train", "test"])
    o.add("--limit", field="limit", type=_positive, metavar="N", help="problems per source")
    o.add(
        "--seed", field="seed", type=int, metavar="S", help="shuffle before --limit with this seed"
    )
    o.add(
        "--data-dir",
        field="data_dir",
        metavar="DIR",
        help="directory of named datasets (default: $SFSTREAM_DATA_DIR)",
    )
    o.add(
        "--decontaminate",
        field="decontaminate",
        choices=["flag", "drop"],
        help="check every problem against the evaluation benchmarks (MATH500, AIME 2024/2025, "
        "AMC 2023, GSM8K test, HumanEval, MBPP test, LiveCodeBench) by word n-gram overlap: "
        "flag adds meta.contamination, drop removes the problem",
    )
    o.add(
        "--decontaminate-ngram",
        field="decontaminate_ngram",
        type=_positive,
        metavar="N",
        help="n-gram size for --decontaminate (default 13)",
    )
    o.add(
        "--shard",
        field="shard",
        type=_shard,
        metavar="I/N",
        help="keep only shard I of N (0 <= I < N) of the problems, partitioned by a fixed hash "
        "of the problem id (after --limit and --seed); for job arrays, see merge",
    )


def _generate_options(p: argparse.ArgumentParser, *, run: bool = False) -> None:
    o = _Options(p, "generate", run=run)
    o.add(
        "--backend",
        field="backend",
        choices=["openai", "transformers", "replay"],
        default="openai",
        help="an OpenAI-compatible server (default"
        + (" when a server is given, else replay" if run else "")
        + "), a small transformers model run in this process, or recorded completions",
    )
    o.add(
        "--replay",
        field="replay_path",
        metavar="FILE",
        help="recorded completions for --backend replay (default: the bundled ones)",
    )
    o.add(
        "--base-url",
        field="base_url",
        action="append",
        metavar="URL",
        help="server URL such as http://127.0.0.1:8000/v1 (default: $SFSTREAM_BASE_URL); "
        "repeat it or separate URLs by commas to balance over several servers",
    )
    o.add(
        "--model",
        field="model",
        metavar="NAME",
        help="model name (default: $SFSTREAM_MODEL); a Hugging Face id or directory for "
        "--backend transformers",
    )
    o.add("--endpoint", field="endpoint", choices=["chat", "completions"], help="default chat")
    o.add(
        "--chat-template",
        field="chat_template",
        action="store_true",
        help="with --endpoint completions, render the model's chat template locally "
        "(needs transformers)",
    )
    o.add(
        "--tokenizer",
        field="tokenizer",
        metavar="NAME",
        help="where to load the chat template from (default: --model)",
    )
    o.add("-n", field="n", type=_positive, metavar="N", help="samples per problem (default 1)")
    o.add(
        "--temperature",
        field="temperature",
        type=float,
        metavar="T",
        help="default: 0.7 for math, 0.8 for code",
    )
    o.add("--top-p", field="top_p", type=float, metavar="P")
    o.add(
        "--max-tokens",
        field="max_tokens",
        type=_positive,
        metavar="M",
        help="default: 512 for math, 1024 for code",
    )
    o.add(
        "--max-tokens-field",
        field="max_tokens_field",
        choices=["max_tokens", "max_completion_tokens"],
        help="request field carrying --max-tokens (default max_tokens)",
    )
    o.add(
        "--seed",
        field="seed",
        run_flags=["--generate-seed"],
        type=int,
        metavar="S",
        help="run seed; each sample gets its own seed derived from it",
    )
    o.add("--stop", field="stop", action="append", metavar="TEXT")
    o.add(
        "--extra-body",
        field="extra_body",
        type=_json_object,
        metavar="JSON",
        help='extra request fields, e.g. \'{"top_k": 20, "min_p": 0.05}\'',
    )
    o.add(
        "--concurrency",
        field="concurrency",
        type=_concurrency,
        metavar="C|auto",
        help="requests in flight over all servers (default 64), or auto: follow each vLLM "
        "server's /metrics to keep its queue just full",
    )
    o.add(
        "--max-concurrency",
        field="max_concurrency",
        type=_positive,
        metavar="C",
        help="with --concurrency auto, the largest limit per server (default 512)",
    )
    o.add(
        "--metrics-interval",
        field="metrics_interval",
        type=float,
        metavar="SECONDS",
        help="with --concurrency auto, between readings of /metrics (default 1)",
    )
    o.add(
        "--timeout",
        field="timeout",
        type=float,
        metavar="SECONDS",
        help="per request (default 3600)",
    )
    o.add("--max-retries", field="max_retries", type=int, metavar="N")
    o.add(
        "--batch-size",
        field="batch_size",
        type=_positive,
        metavar="B",
        help="--backend transformers: samples generated together in one batch (default 8)",
    )
    if not run:  # run keeps its journal in its output folder
        o.add(
            "--journal",
            field="journal",
            metavar="PATH",
            help="append every response to PATH as it arrives; rerunning the same command "
            "after a crash emits the journaled samples again and requests only the rest",
        )
        o.add(
            "--templates",
            field="templates",
            metavar="FILE",
            help="JSON file overriding the prompt templates per domain",
        )


def _verify_options(p: argparse.ArgumentParser, *, run: bool = False) -> None:
    o = _Options(p, "verify", run=run)
    o.add(
        "--workers",
        field="workers",
        type=_positive,
        metavar="N",
        help="samples checked at once (default: number of CPUs)",
    )
    o.add(
        "--time-limit",
        field="time_limit",
        type=float,
        metavar="SECONDS",
        help="per test case (default 4)",
    )
    o.add(
        "--memory-mb",
        field="memory_mb",
        type=_positive,
        metavar="MB",
        help="per test case (default 1024)",
    )
    o.add(
        "--math-timeout",
        field="math_timeout",
        type=float,
        metavar="SECONDS",
        help="limit on a symbolic comparison (default 5)",
    )
    o.add(
        "--math-strict",
        field="math_strict",
        action="store_true",
        help="a math completion needs a box, an answer phrase or a bold final value "
        "(its concluding sentence alone does not count)",
    )
    o.add(
        "--math-rel-tol",
        field="math_rel_tol",
        type=_non_negative_float,
        metavar="TOL",
        help="relative tolerance for numeric math answers (default 0: exact)",
    )
    _quality_options(o, "is low_quality")


def _quality_options(o: _Options, effect: str) -> None:
    # Quality thresholds: verify marks a correct sample that fails one low_quality; format
    # drops it (from the measures verify wrote), so a stricter cut needs no second check.
    o.add(
        "--min-steps",
        field="min_steps",
        type=int,
        metavar="N",
        help=f"a correct sample with fewer reasoning steps (paragraphs) {effect}",
    )
    o.add(
        "--max-completion-tokens",
        field="max_completion_tokens",
        type=int,
        metavar="N",
        help=f"a correct sample with more completion tokens {effect}",
    )
    o.add(
        "--max-test-time-ratio",
        field="max_test_time_ratio",
        type=float,
        metavar="R",
        help=f"a correct program whose slowest test case took more than R times the time "
        f"limit {effect}",
    )
    o.add(
        "--min-explanation-chars",
        field="min_explanation_chars",
        type=int,
        metavar="N",
        help=f"a correct code completion with fewer characters outside its code {effect}",
    )


def _format_options(p: argparse.ArgumentParser, *, run: bool = False) -> None:
    o = _Options(p, "format", run=run)
    o.add(
        "--style",
        field="style",
        choices=["messages", "seed", "sharegpt", "alpaca"],
        help="the example layout (default messages)"
        + ("" if run else "; with -o FILE.parquet the examples are written as Parquet"),
    )
    o.add(
        "--keep",
        field="keep",
        choices=["all", "first", "shortest", "longest", "random"],
        help="correct samples kept per problem (default all)",
    )
    _selection_options(o)
    o.add(
        "--templates",
        field="templates",
        metavar="FILE",
        help="JSON file overriding the prompt templates per domain"
        + (" (for generate and format)" if run else ""),
    )
    if not run:  # in run, verify applies the thresholds
        _quality_options(o, "is dropped (read from the verdict's quality)")


def _selection_options(o: _Options) -> None:
    # The selection steps of sfstream.select (docs/records.md, "Selection").
    o.add(
        "--seed",
        run_flags=["--select-seed"],
        field="seed",
        type=int,
        metavar="S",
        help="seed of --keep random and of the examples a --mix drops (default 0)",
    )
    o.add(
        "--max-per-problem",
        field="max_per_problem",
        type=_positive,
        metavar="N",
        help="samples kept per problem by --keep first|shortest|longest|random (default 1)",
    )
    o.add(
        "--pass-rate",
        field="pass_rate",
        metavar="LO:HI",
        help="keep only problems whose share of correct samples lies in [LO, HI] "
        "(e.g. 0.1:0.9: neither trivial nor unsolved)",
    )
    o.add(
        "--samples-per-problem",
        field="samples_per_problem",
        type=_positive,
        metavar="N",
        help="samples generated per problem (generate's -n), so a problem is decided as soon "
        "as its samples are in" + (" (default: -n)" if o.run else ""),
    )
    o.add(
        "--mix",
        field="mix",
        metavar="NAME=RATIO,...",
        help="keep the largest output with these ratios of domains (math=0.6,code=0.4) or, "
        "with --mix-by source, of sources",
    )
    o.add("--mix-by", field="mix_by", choices=["domain", "source"], help="default domain")
    o.add(
        "--dedup-problems",
        field="dedup_problems",
        choices=["exact", "near"],
        help="remove problems whose statement repeats one kept before it: the same "
        "normalised tokens (exact), or also MinHash near duplicates (near)",
    )
    o.add(
        "--dedup-completions",
        field="dedup_completions",
        choices=["exact", "near"],
        help="remove examples whose completion repeats one kept before it (exact or near)",
    )
    o.add(
        "--minhash-shingle",
        field="minhash_shingle",
        type=_positive,
        metavar="K",
        help="tokens per shingle of near-duplicate detection (default 5)",
    )
    o.add(
        "--minhash-perms",
        field="minhash_perms",
        type=_positive,
        metavar="N",
        help="MinHash permutations (default 128)",
    )
    o.add(
        "--minhash-bands",
        field="minhash_bands",
        type=_positive,
        metavar="B",
        help="LSH bands, dividing the permutations (default 16)",
    )
    o.add(
        "--near-threshold",
        field="near_threshold",
        type=_non_negative_float,
        metavar="J",
        help="estimated Jaccard similarity of a near duplicate (default 0.8)",
    )


def _serve_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tensor-parallel-size",
        type=_positive,
        default=None,
        metavar="N",
        help="GPUs the model is split over",
    )
    p.add_argument(
        "--quantization",
        default=None,
        metavar="Q",
        help="vLLM quantization method (awq, gptq, fp8, ...)",
    )
    p.add_argument(
        "--max-model-len", type=_positive, default=None, metavar="L", help="context length"
    )
    p.add_argument(
        "--served-model-name",
        default=None,
        metavar="NAME",
        help="name clients use (default: MODEL)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, metavar="P", help="default: a free port")
    p.add_argument(
        "--python",
        default=None,
        metavar="PATH",
        help="python with vLLM installed (default: $SFSTREAM_VLLM_PYTHON, else this one)",
    )
    p.add_argument(
        "--startup-timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="wait this long for /health (default 600)",
    )
    p.add_argument(
        "--server-log",
        default=None,
        metavar="PATH",
        help="write the server's output here (default: stderr)",
    )


def _ray_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="run on a Ray cluster (needs sfstream[ray]): the problems are cut into shards, run "
        "side by side on the cluster's nodes with Ray Data, each into OUT/shards/I-of-N, then "
        "merged into OUT. ADDRESS as ray.init takes it (auto, HOST:PORT, ray://HOST:PORT); "
        "without it $RAY_ADDRESS, the cluster started on this machine, or a new local one",
    )
    p.add_argument(
        "--ray-shards",
        type=_positive,
        default=None,
        metavar="N",
        help="with --ray, shards to cut the problems into (default: those of an earlier attempt "
        "in OUT, else twice --ray-workers)",
    )
    p.add_argument(
        "--ray-workers",
        type=_positive,
        default=None,
        metavar="N",
        help="with --ray, shard runs at once (default: the cluster's nodes); the --base-url "
        "servers are split among them",
    )
    p.add_argument(
        "--ray-cpus",
        type=float,
        default=None,
        metavar="C",
        help="with --ray, CPUs each shard run reserves (default 1)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``sfstream`` command."""
    parser = argparse.ArgumentParser(
        prog="sfstream",
        description="Turn math and coding problems into verified step-by-step training data.",
    )
    parser.add_argument("--version", action="version", version=f"sfstream {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("collect", help="read problems from datasets or files")
    _collect_options(p)
    _common(p, reads=False)

    p = sub.add_parser("generate", help="sample solutions from a model server")
    _generate_options(p)
    _common(p)

    p = sub.add_parser("verify", help="check answers and run code against tests")
    _verify_options(p)
    _common(p)

    p = sub.add_parser("format", help="turn correct samples into training examples")
    _format_options(p)
    _common(p)

    p = sub.add_parser(
        "run",
        help="run all stages in one process, resumable (offline on the bundled sample by default)",
        description="Runs collect, generate, verify and format in one process. Every option of "
        "the stages is a flag here (collect's --seed shuffles; the generation seed is "
        "--generate-seed); flags override the --config file. The output folder is the run's "
        "state: rerunning the same command resumes it. Arguments after -- go to the vLLM "
        "server started by --serve.",
    )
    _collect_options(p, run=True)
    _generate_options(p, run=True)
    _verify_options(p, run=True)
    _format_options(p, run=True)
    p.add_argument("--config", default=None, metavar="FILE", help="TOML configuration")
    p.add_argument(
        "--out", default=None, metavar="DIR", help="output directory (default: sfstream-out)"
    )
    p.add_argument(
        "--restart",
        action="store_true",
        help="delete the run's files in the output directory and start over instead of resuming",
    )
    p.add_argument(
        "--serve",
        default=None,
        metavar="MODEL",
        help="start a vLLM server for MODEL (options as for sfstream serve), run against it, "
        "and stop it with the run",
    )
    _serve_options(p)
    _ray_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress")

    p = sub.add_parser(
        "serve",
        help="start a vLLM OpenAI-compatible server and print its URL",
        description="Starts python -m vllm.entrypoints.openai.api_server, waits for /health, "
        "prints the API base URL on stdout and stops the server (its whole process group) "
        "on Ctrl-C or SIGTERM. Arguments after -- go to vLLM as they are.",
    )
    p.add_argument("model", metavar="MODEL", help="Hugging Face id or local directory")
    _serve_options(p)
    p.add_argument("-q", "--quiet", action="store_true")

    p = sub.add_parser(
        "merge",
        help="combine the output folders of shards (--shard) into one",
        description="Concatenates the verified samples and training examples of shard output "
        "folders and sums their reports (pass rates recomputed). The shards must be finished "
        "runs of one configuration, each with a different --shard of the same N.",
    )
    p.add_argument("dirs", nargs="+", metavar="DIR", help="shard output folders")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write")
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="merge even when not every shard of N is given",
    )
    p.add_argument("-q", "--quiet", action="store_true")

    p = sub.add_parser("stats", help="summarise NDJSON records of any stage")
    p.add_argument("-i", "--input", default="-", metavar="PATH")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument(
        "--html",
        metavar="PATH",
        help="also write the report as one self-contained HTML page (as sfstream run's "
        "report.html)",
    )
    p.add_argument("--on-error", choices=["fail", "skip"], default="fail")
    p.add_argument("--max-line-bytes", type=int, default=DEFAULT_MAX_LINE_BYTES)
    p.add_argument("-q", "--quiet", action="store_true")
    return parser


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0.0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def _stage_options(args: argparse.Namespace, stage: str) -> dict[str, Any]:
    """The options of one stage given on the command line, by config field."""
    prefix = stage + "."
    return {
        k[len(prefix) :]: v
        for k, v in vars(args).items()
        if k.startswith(prefix) and v is not None and v != []
    }


async def _filter(
    args: argparse.Namespace,
    stage_name: str,
    want: str,
    parse: Callable[[dict[str, Any]], Any],
    make_stage: Callable[[StageProgress], StageFn],
    writers: dict[str, NdjsonWriter],
    open_output: Callable[[str], AbstractAsyncContextManager[RecordWriter]] = open_writer,
) -> None:
    stats = ReadStats()
    board = ProgressBoard(enabled=not args.quiet)
    stage = make_stage(board.stage(stage_name))
    source = read_records(
        args.input,
        _reading(stage_name, want, parse),
        on_error=args.on_error,
        max_line_bytes=args.max_line_bytes,
        stats=stats,
    )
    async with open_output(args.output) as writer:
        # Read only for .name and .written, which both writers have.
        writers["output"] = writer  # type: ignore[assignment]
        async with anyio.create_task_group() as tg:
            tg.start_soon(board.run)
            async with open_pipeline(source, [stage]) as results:
                async for record in results:
                    await writer.write(record)
            tg.cancel_scope.cancel()
        board.finish()
    if stats.skipped:
        log.warning("%s: %d malformed line(s) skipped", stage_name, stats.skipped)
    log.info(
        "%s: read %d, wrote %d records to %s", stage_name, stats.read, writer.written, writer.name
    )


async def _collect(args: argparse.Namespace, writers: dict[str, NdjsonWriter]) -> None:
    from sfstream.collect import collect

    opts = _stage_options(args, "collect")
    shard = opts.pop("shard", None)
    source = collect(opts.pop("sources"), **opts)
    if shard is not None:
        source = shard.filter(source)
    async with open_writer(args.output) as writer:
        writers["output"] = writer
        async for problem in source:
            await writer.write(problem)
    log.info("collect: wrote %d problems to %s", writer.written, writer.name)


async def _generate(args: argparse.Namespace, writers: dict[str, NdjsonWriter]) -> None:
    from sfstream.generate import GenerateConfig, generate_stage

    config = GenerateConfig(**_stage_options(args, "generate"))
    await _filter(
        args, "generate", "problem", Problem.from_dict, lambda p: generate_stage(config, p), writers
    )


async def _verify(args: argparse.Namespace, writers: dict[str, NdjsonWriter]) -> None:
    from sfstream.verify import VerifyConfig, verify_stage

    config = VerifyConfig(**_stage_options(args, "verify"))
    await _filter(
        args, "verify", "sample", Sample.from_dict, lambda p: verify_stage(config, p), writers
    )


async def _format(args: argparse.Namespace, writers: dict[str, NdjsonWriter]) -> None:
    from sfstream.format import FormatConfig, format_stage
    from sfstream.templates import load_templates

    opts = _stage_options(args, "format")
    opts["templates"] = load_templates(opts.get("templates"))
    config = FormatConfig(**opts)
    await _filter(
        args,
        "format",
        "verified",
        Sample.from_dict,
        lambda p: format_stage(config, p),
        writers,
        lambda path: open_examples_writer(path, config.style),
    )


def _serve_config(args: argparse.Namespace, model: str) -> Any:
    from sfstream.serve import ServeConfig

    return ServeConfig(
        model=model,
        served_model_name=args.served_model_name,
        host=args.host,
        port=args.port,
        tensor_parallel_size=args.tensor_parallel_size,
        quantization=args.quantization,
        max_model_len=args.max_model_len,
        extra_args=tuple(getattr(args, "extra_args", ())),
        python=args.python,
        log=Path(args.server_log) if args.server_log else None,
        startup_timeout=args.startup_timeout,
    )


async def _run(args: argparse.Namespace, writers: dict[str, NdjsonWriter]) -> None:
    from sfstream.runner import check_resumable, load_config, run_async
    from sfstream.serve import start_server

    sections = {s: _stage_options(args, s) for s in ("collect", "generate", "verify", "format")}
    if "templates" in sections["format"]:
        sections["generate"]["templates"] = sections["format"]["templates"]
    if args.serve is not None and ("base_url" in sections["generate"]):
        raise ConfigError("--serve starts the server: leave out --base-url")

    def load(extra_generate: dict[str, Any]) -> Any:
        return load_config(
            args.config,
            collect=sections["collect"],
            generate={**sections["generate"], **extra_generate},
            verify=sections["verify"],
            format=sections["format"],
            out=Path(args.out) if args.out else None,
            progress=False if args.quiet else None,
            restart=True if args.restart else None,
        )

    if args.ray is not None:
        report = _run_on_ray(args, load)
    elif args.serve is None:
        report = await run_async(load({}), writers)
    else:
        serve = _serve_config(args, args.serve)
        # The configuration and the output folder are checked before the (slow) server starts.
        check_resumable(load({"base_url": "http://127.0.0.1:1/v1", "model": serve.name}))
        stack = contextlib.ExitStack()
        server = await anyio.to_thread.run_sync(stack.enter_context, start_server(serve))
        try:
            log.info("run: vLLM server for %s healthy at %s", server.model, server.base_url)
            config = load({"base_url": server.base_url, "model": server.model})
            report = await run_async(config, writers)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(stack.close)
    print(report.to_text(), file=sys.stderr)
    print(f"training examples: {report.outputs['train']}", file=sys.stderr)
    print(f"verified samples:  {report.outputs['verified']}", file=sys.stderr)
    print(f"report:            {report.outputs['report']}", file=sys.stderr)
    print(f"report page:       {report.outputs['report_html']}", file=sys.stderr)
    print(f"configuration:     {report.outputs['config']}", file=sys.stderr)
    print(f"dataset card:      {report.outputs['dataset']}", file=sys.stderr)


def _run_on_ray(args: argparse.Namespace, load: Callable[[dict[str, Any]], Any]) -> Any:
    from sfstream.ray_run import RayOptions, run_on_ray

    serve = None if args.serve is None else _serve_config(args, args.serve)
    options = RayOptions(
        address=args.ray or None,
        shards=args.ray_shards,
        workers=args.ray_workers,
        cpus=1.0 if args.ray_cpus is None else args.ray_cpus,
        serve=serve,
    )
    # With --serve, the servers' addresses replace this placeholder once they are up.
    placeholder = {"base_url": "http://127.0.0.1:1/v1", "model": serve.name} if serve else {}
    config = load(placeholder)
    # In this (the main) thread: Ray's driver wants its signal handlers, and Ctrl-C stops it.
    return run_on_ray(config, options)


def _serve(args: argparse.Namespace) -> int:
    from sfstream.serve import serve_forever

    return serve_forever(_serve_config(args, args.model))


async def _merge(args: argparse.Namespace, writers: dict[str, NdjsonWriter]) -> None:
    from sfstream.merge import merge

    report = await anyio.to_thread.run_sync(
        lambda: merge(
            [Path(d) for d in args.dirs], Path(args.out), allow_missing=args.allow_missing
        )
    )
    if not args.quiet:
        print(report.to_text(), file=sys.stderr)
    log.info("merge: wrote %s", Path(args.out) / "report.json")


async def _stats(args: argparse.Namespace, writers: dict[str, NdjsonWriter]) -> None:
    from sfstream.report import Report
    from sfstream.report_details import ReportDetails

    report = Report(details=ReportDetails() if args.html else None)
    stats = ReadStats()
    async for record in read_records(
        args.input,
        record_from_dict,
        on_error=args.on_error,
        max_line_bytes=args.max_line_bytes,
        stats=stats,
    ):
        report.observe_any(record)
    report.skipped_lines = stats.skipped
    if args.html:
        from sfstream.report_html import write_html

        name = "standard input" if args.input == "-" else Path(args.input).name
        await anyio.to_thread.run_sync(
            lambda: write_html(report, args.html, title=f"sfstream report: {name}", what=f"{name}")
        )
        log.info("stats: wrote %s", args.html)
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2) + b"\n")
    else:
        print(report.to_text() or "no records")


COMMANDS = {
    "collect": _collect,
    "generate": _generate,
    "verify": _verify,
    "format": _format,
    "run": _run,
    "merge": _merge,
    "stats": _stats,
}


def _exit(code: int) -> NoReturn:
    """Ends the process now: a worker thread may still be blocked reading an open pipe, and
    the interpreter would wait for it at exit."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _fail(command: str, message: str, code: int = 1) -> NoReturn:
    print(f"sfstream {command}: error: {message}", file=sys.stderr)
    _exit(code)


def _say_written(writers: dict[str, NdjsonWriter]) -> str:
    parts = [
        f"{w.written} records to {w.name}"
        for w in writers.values()
        if w.name != "<stdout>" or w.written
    ]
    return "wrote " + ", ".join(parts) if parts else "nothing was written"


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``sfstream`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if argv and argv[0] in ("serve", "run") and "--" in argv:
        # Everything after -- goes to the vLLM server as it is.
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    args = build_parser().parse_args(argv)
    args.extra_args = extra
    if args.command in ("collect", "generate", "verify") and is_parquet(args.output):
        _fail(args.command, f"{args.command} writes NDJSON; Parquet is for format's examples", 2)
    # Only sfstream's own logger speaks on stderr; libraries (httpx logs every request at
    # INFO) stay at their warnings.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("sfstream: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.WARNING if args.quiet else logging.INFO)
    log.propagate = False
    writers: dict[str, NdjsonWriter] = {}
    if args.command == "run" and args.serve is not None:
        # Stop the server on SIGTERM too (as on Ctrl-C), not only when the run ends.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        if args.command == "serve":  # signal handlers need the main thread
            _exit(_serve(args))
        anyio.run(COMMANDS[args.command], args, writers)
    except BaseException as exc:
        err = first_error(exc)
        if isinstance(err, KeyboardInterrupt):
            print(
                f"\nsfstream {args.command}: interrupted; {_say_written(writers)}", file=sys.stderr
            )
            _exit(130)
        if isinstance(err, SystemExit):
            raise err from None
        if isinstance(err, BrokenPipeError):
            # The reader went away (e.g. `| head`): stop quietly, as SIGPIPE would.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            _exit(141)
        if isinstance(err, SfstreamError):
            _fail(args.command, str(err))
        if isinstance(err, OSError):
            _fail(
                args.command,
                f"{err.strerror or err}" + (f": {err.filename}" if err.filename else ""),
            )
        raise


if __name__ == "__main__":
    main()
