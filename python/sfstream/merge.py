"""``sfstream merge``: combine the output folders of shards (``--shard I/N``) into one.

Each folder must hold a finished ``sfstream run`` (its ``report.json`` written and no
``.partial`` file left), all of one configuration apart from the shard, with distinct shards
of the same ``N``. The merged folder gets the verified samples and training examples of every
shard one after the other, one report (counts summed, pass rates recomputed from the summed
counts; its ``report.html`` made from the merged files) and, as in a run's folder, the
examples as a dataset with its card. Shards hold disjoint problems, so per-problem counts add
up too.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from sfstream.errors import ConfigError
from sfstream.export import check_card_free, write_dataset_folder
from sfstream.ndjson import read_records_sync
from sfstream.records import Example, Sample
from sfstream.report import Report, _Rate
from sfstream.report_details import ReportDetails
from sfstream.report_html import write_html
from sfstream.runner import _write_atomic, folder_outputs, to_toml

__all__ = ["merge"]


def _read_shard(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    state_path, report_path = folder / "run-state.json", folder / "report.json"
    for name in ("verified.jsonl", "train.jsonl", "report.json"):
        if (folder / f"{name}.partial").exists() or not (folder / name).exists():
            raise ConfigError(
                f"{folder} is not a finished run ({name} is missing or still partial): "
                "rerun its command to finish it first"
            )
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))["config"]
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{folder} is not an sfstream run folder: {e}") from None
    return state, report


def _concat(sources: list[Path], target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    with open(partial, "wb") as out:
        for path in sources:
            with open(path, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)
    partial.replace(target)


def merge(dirs: list[Path], out: Path, *, allow_missing: bool = False) -> Report:
    """Merges shard output folders into ``out``; returns the merged report.

    Raises:
        ConfigError: a folder is not a finished run, the folders differ in configuration, a
            shard appears twice, or (without ``allow_missing``) a shard of N is missing.
    """
    if not dirs:
        raise ConfigError("merge needs at least one folder")
    states, reports = zip(*(_read_shard(d) for d in dirs), strict=True)
    shards: list[str | None] = [s.get("collect", {}).get("shard") for s in states]
    base = [_without_shard(s) for s in states]
    for d, s in zip(dirs[1:], base[1:], strict=True):
        if s != base[0]:
            raise ConfigError(
                f"{d} was made with another configuration than {dirs[0]}: only --shard may differ"
            )
    seen: dict[str, Path] = {}
    counts = set()
    for d, shard in zip(dirs, shards, strict=True):
        if shard is None:
            raise ConfigError(f"{d} is not a shard (it was run without --shard)")
        if shard in seen:
            raise ConfigError(f"{d} and {seen[shard]} are the same shard {shard}")
        seen[shard] = d
        counts.add(int(shard.split("/")[1]))
    if len(counts) != 1:
        raise ConfigError(f"the folders are shards of different N: {sorted(counts)}")
    (n,) = counts
    missing = sorted(set(range(n)) - {int(s.split("/")[0]) for s in seen})
    if missing and not allow_missing:
        raise ConfigError(
            f"shard(s) {', '.join(f'{i}/{n}' for i in missing)} missing "
            "(add --allow-missing to merge what is there)"
        )
    out.mkdir(parents=True, exist_ok=True)
    check_card_free(out)
    _concat([d / "verified.jsonl" for d in dirs], out / "verified.jsonl")
    _concat([d / "train.jsonl" for d in dirs], out / "train.jsonl")
    report = _sum_reports(list(reports))
    report.outputs = folder_outputs(out)
    data = report.to_dict()
    data["merged_from"] = [str(d) for d in dirs]
    data["shards"] = sorted(seen, key=lambda s: int(s.split("/")[0]))
    effective = base[0]
    write_dataset_folder(out, effective, data)
    (out / "report.json").write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    (out / "report.txt").write_text(report.to_text() + "\n", encoding="utf-8")
    _write_page(report, out)
    _write_atomic(out / "config.toml", to_toml({"out": str(out), **effective}).encode())
    return report


def _write_page(report: Report, out: Path) -> None:
    """``report.html`` of the merged folder, its details read back from the merged files
    (streamed: per-problem counts, histogram bins and a few completions are kept)."""
    details = ReportDetails()
    for sample in read_records_sync(out / "verified.jsonl", Sample.from_dict):
        details.observe("verify", sample)
    for example in read_records_sync(out / "train.jsonl", Example.from_dict):
        details.observe("format", example)
    report.details = details
    write_html(report, out / "report.html", what="The merged shards")


def _without_shard(state: dict[str, Any]) -> dict[str, Any]:
    collect = {k: v for k, v in state.get("collect", {}).items() if k != "shard"}
    return {**state, "collect": collect}


def _sum_reports(reports: list[dict[str, Any]]) -> Report:
    total = Report()
    elapsed = 0.0
    for r in reports:
        for stage, count in r.get("stages", {}).items():
            total.stages[stage] = total.stages.get(stage, 0) + count
        total.statuses.update(Counter(r.get("statuses", {})))
        total.low_quality.update(Counter(r.get("low_quality", {})))
        total.finish_reasons.update(Counter(r.get("finish_reasons", {})))
        total.tokens.update(Counter(r.get("tokens", {})))
        total.skipped_lines += r.get("skipped_lines", 0)
        elapsed = max(elapsed, r.get("elapsed_seconds") or 0.0)
        for key, value in r.get("selection", {}).items():
            if key == "mix_counts":
                mix = total.selection.setdefault("mix_counts", {})
                for group, c in value.items():
                    into = mix.setdefault(group, {"available": 0, "kept": 0})
                    into["available"] += c["available"]
                    into["kept"] += c["kept"]
            else:
                total.selection[key] = total.selection.get(key, 0) + value
        for key, table in (("by_source", total.by_source), ("by_domain", total.by_domain)):
            for name, rate in r.get(key, {}).items():
                _add_rate(table[name], rate)
    total.elapsed = elapsed
    return total


def _add_rate(into: _Rate, rate: dict[str, Any]) -> None:
    into.verified += rate["verified"]
    into.correct += rate["correct"]
    into.more_problems += rate["problems"]
    into.more_solved += rate["problems_solved"]
