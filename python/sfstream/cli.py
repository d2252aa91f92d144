"""The ``sfstream`` command: each stage an NDJSON filter from stdin to stdout, and ``run``.

    sfstream collect sample | sfstream generate --base-url URL --model M \\
        | sfstream verify | sfstream format > train.jsonl

Records go to stdout, logs and progress to stderr. Exit status: 0 on success, 1 on a pipeline
fault (with one line saying what and where), 2 on bad usage, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import anyio
import orjson

from sfstream import __version__
from sfstream.errors import RecordError, SfstreamError
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``sfstream`` command."""
    parser = argparse.ArgumentParser(
        prog="sfstream",
        description="Turn math and coding problems into verified step-by-step training data.",
    )
    parser.add_argument("--version", action="version", version=f"sfstream {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("collect", help="read problems from datasets or files")
    p.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="dataset name (sample, math, math500, aime24, aime25, apps, ...), a "
        ".jsonl/.json/.parquet file, or hf:ORG/NAME",
    )
    p.add_argument("--split", choices=["train", "test"], default=None)
    p.add_argument("--limit", type=_positive, default=None, metavar="N", help="problems per source")
    p.add_argument(
        "--seed", type=int, default=None, metavar="S", help="shuffle before --limit with this seed"
    )
    p.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help="directory of named datasets (default: $SFSTREAM_DATA_DIR)",
    )
    _common(p, reads=False)

    p = sub.add_parser("generate", help="sample solutions from a model server")
    p.add_argument(
        "--backend",
        choices=["openai", "transformers", "replay"],
        default="openai",
        help="an OpenAI-compatible server (default), a small transformers model run in "
        "this process, or recorded completions",
    )
    p.add_argument(
        "--replay",
        default=None,
        metavar="FILE",
        help="recorded completions for --backend replay (default: the bundled ones)",
    )
    p.add_argument(
        "--base-url",
        action="append",
        default=None,
        metavar="URL",
        help="server URL such as http://127.0.0.1:8000/v1 (default: $SFSTREAM_BASE_URL); "
        "repeat it or separate URLs by commas to balance over several servers",
    )
    p.add_argument(
        "--model",
        default=None,
        metavar="NAME",
        help="model name (default: $SFSTREAM_MODEL); a Hugging Face id or directory for "
        "--backend transformers",
    )
    p.add_argument("--endpoint", choices=["chat", "completions"], default="chat")
    p.add_argument(
        "--chat-template",
        action="store_true",
        default=None,
        help="with --endpoint completions, render the model's chat template locally "
        "(needs transformers)",
    )
    p.add_argument(
        "--tokenizer",
        default=None,
        metavar="NAME",
        help="where to load the chat template from (default: --model)",
    )
    p.add_argument(
        "-n", type=_positive, default=None, metavar="N", help="samples per problem (default 1)"
    )
    p.add_argument(
        "--temperature",
        type=float,
        default=None,
        metavar="T",
        help="default: 0.7 for math, 0.8 for code",
    )
    p.add_argument("--top-p", type=float, default=None, metavar="P")
    p.add_argument(
        "--max-tokens",
        type=_positive,
        default=None,
        metavar="M",
        help="default: 512 for math, 1024 for code",
    )
    p.add_argument(
        "--max-tokens-field",
        choices=["max_tokens", "max_completion_tokens"],
        default=None,
        help="request field carrying --max-tokens (default max_tokens)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        metavar="S",
        help="run seed; each sample gets its own seed derived from it",
    )
    p.add_argument("--stop", action="append", default=None, metavar="TEXT")
    p.add_argument(
        "--extra-body",
        type=_json_object,
        default=None,
        metavar="JSON",
        help='extra request fields, e.g. \'{"top_k": 20, "min_p": 0.05}\'',
    )
    p.add_argument(
        "--concurrency",
        type=_concurrency,
        default=None,
        metavar="C|auto",
        help="requests in flight over all servers (default 64), or auto: follow each vLLM "
        "server's /metrics to keep its queue just full",
    )
    p.add_argument(
        "--max-concurrency",
        type=_positive,
        default=None,
        metavar="C",
        help="with --concurrency auto, the largest limit per server (default 512)",
    )
    p.add_argument(
        "--metrics-interval",
        type=float,
        default=None,
        metavar="SECONDS",
        help="with --concurrency auto, between readings of /metrics (default 1)",
    )
    p.add_argument(
        "--timeout", type=float, default=None, metavar="SECONDS", help="per request (default 3600)"
    )
    p.add_argument("--max-retries", type=int, default=None, metavar="N")
    p.add_argument(
        "--journal",
        default=None,
        metavar="PATH",
        help="append every response to PATH as it arrives; rerunning the same command after "
        "a crash emits the journaled samples again and requests only the rest",
    )
    p.add_argument(
        "--templates",
        default=None,
        metavar="FILE",
        help="JSON file overriding the prompt templates per domain",
    )
    _common(p)

    p = sub.add_parser("verify", help="check answers and run code against tests")
    p.add_argument(
        "--workers",
        type=_positive,
        default=None,
        metavar="N",
        help="samples checked at once (default: number of CPUs)",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="per test case (default 4)",
    )
    p.add_argument(
        "--memory-mb",
        type=_positive,
        default=None,
        metavar="MB",
        help="per test case (default 1024)",
    )
    p.add_argument(
        "--math-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="limit on a symbolic comparison (default 5)",
    )
    p.add_argument(
        "--math-strict",
        action="store_true",
        default=None,
        help="a math completion needs a box, an answer phrase or a bold final value "
        "(its concluding sentence alone does not count)",
    )
    p.add_argument(
        "--math-rel-tol",
        type=_non_negative_float,
        default=None,
        metavar="TOL",
        help="relative tolerance for numeric math answers (default 0: exact)",
    )
    _common(p)

    p = sub.add_parser("format", help="turn correct samples into training examples")
    p.add_argument("--style", choices=["messages", "seed", "sharegpt"], default="messages")
    p.add_argument(
        "--keep",
        choices=["all", "first", "shortest"],
        default="all",
        help="correct samples kept per problem",
    )
    p.add_argument("--templates", default=None, metavar="FILE")
    _common(p)

    p = sub.add_parser(
        "run", help="run all stages in one process (offline on the bundled sample by default)"
    )
    p.add_argument("--config", default=None, metavar="FILE", help="TOML configuration")
    p.add_argument(
        "--out", default=None, metavar="DIR", help="output directory (default: sfstream-out)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress")

    p = sub.add_parser("stats", help="summarise NDJSON records of any stage")
    p.add_argument("-i", "--input", default="-", metavar="PATH")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
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


def _options(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


async def _filter(
    args: argparse.Namespace,
    stage_name: str,
    want: str,
    parse: Callable[[dict[str, Any]], Any],
    make_stage: Callable[[StageProgress], StageFn],
    writers: dict[str, NdjsonWriter],
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
    async with open_writer(args.output) as writer:
        writers["output"] = writer
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

    async with open_writer(args.output) as writer:
        writers["output"] = writer
        async for problem in collect(
            args.sources, split=args.split, limit=args.limit, seed=args.seed, data_dir=args.data_dir
        ):
            await writer.write(problem)
    log.info("collect: wrote %d problems to %s", writer.written, writer.name)


async def _generate(args: argparse.Namespace, writers: dict[str, NdjsonWriter]) -> None:
    from sfstream.generate import GenerateConfig, generate_stage

    opts = _options(
        args,
        [
            "backend",
            "base_url",
            "model",
            "endpoint",
            "chat_template",
            "tokenizer",
            "n",
            "temperature",
            "top_p",
            "max_tokens",
            "max_tokens_field",
            "seed",
            "stop",
            "concurrency",
            "max_concurrency",
            "metrics_interval",
            "timeout",
            "max_retries",
            "journal",
            "templates",
        ],
    )
    if args.replay is not None:
        opts["replay_path"] = args.replay
    if args.extra_body is not None:
        opts["extra_body"] = args.extra_body
    config = GenerateConfig(**opts)
    await _filter(
        args, "generate", "problem", Problem.from_dict, lambda p: generate_stage(config, p), writers
    )


async def _verify(args: argparse.Namespace, writers: dict[str, NdjsonWriter]) -> None:
    from sfstream.verify import VerifyConfig, verify_stage

    config = VerifyConfig(
        **_options(
            args,
            ["workers", "time_limit", "memory_mb", "math_timeout", "math_strict", "math_rel_tol"],
        )
    )
    await _filter(
        args, "verify", "sample", Sample.from_dict, lambda p: verify_stage(config, p), writers
    )


async def _format(args: argparse.Namespace, writers: dict[str, NdjsonWriter]) -> None:
    from sfstream.format import FormatConfig, format_stage
    from sfstream.templates import load_templates

    config = FormatConfig(
        style=args.style, keep=args.keep, templates=load_templates(args.templates)
    )
    await _filter(
        args, "format", "verified", Sample.from_dict, lambda p: format_stage(config, p), writers
    )


async def _run(args: argparse.Namespace, writers: dict[str, NdjsonWriter]) -> None:
    from sfstream.runner import load_config, run_async

    config = load_config(
        args.config,
        out=Path(args.out) if args.out else None,
        progress=False if args.quiet else None,
    )
    report = await run_async(config, writers)
    print(report.to_text(), file=sys.stderr)
    print(f"training examples: {report.outputs['train']}", file=sys.stderr)
    print(f"verified samples:  {report.outputs['verified']}", file=sys.stderr)
    print(f"report:            {report.outputs['report']}", file=sys.stderr)


async def _stats(args: argparse.Namespace, writers: dict[str, NdjsonWriter]) -> None:
    from sfstream.report import Report

    report = Report()
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
    args = build_parser().parse_args(argv)
    # Only sfstream's own logger speaks on stderr; libraries (httpx logs every request at
    # INFO) stay at their warnings.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("sfstream: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.WARNING if args.quiet else logging.INFO)
    log.propagate = False
    writers: dict[str, NdjsonWriter] = {}
    try:
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
