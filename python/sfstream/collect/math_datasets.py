"""The math datasets: MATH, MATH500, AIME, AMC and GSM8K."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sfstream.collect.files import read_json
from sfstream.collect.rows import (
    ProblemDict,
    Row,
    RowError,
    SkipRow,
    clean_meta,
    gsm8k_split,
    last_boxed,
    level,
    str_or_none,
)
from sfstream.collect.specs import DatasetSpec, HfSource, json_loader, jsonl_loader, same_splits
from sfstream.errors import ConfigError

__all__ = ["MATH_DATASETS"]

log = logging.getLogger("sfstream.collect")


def _math_record(source: str, ident: str, row: Row, meta: dict[str, Any]) -> ProblemDict:
    answer = row.get("answer")
    if answer is None or (isinstance(answer, str) and not answer.strip()):
        answer = last_boxed(row.get("solution") or "")
    if answer is None:
        raise SkipRow(
            f"{ident}: no gold answer (no 'answer' and no non-empty \\boxed{{}} in the solution)"
        )
    return {
        "id": ident,
        "domain": "math",
        "source": source,
        "problem": row["problem"],
        "answer": answer,
        "solution": str_or_none(row.get("solution")),
        "meta": clean_meta(meta),
    }


def _map_math(row: Row, index: int, split: str) -> ProblemDict:
    ident = row.get("idx", index)
    return _math_record(
        "math",
        f"math/{split}/{ident}",
        row,
        {"subject": row.get("type") or row.get("subject"), "level": level(row.get("level"))},
    )


def _load_math(data_dir: Path, split: str) -> Iterator[ProblemDict | None] | None:
    if split == "test":
        return jsonl_loader("math/test.jsonl", _map_math)(data_dir, split)
    root = data_dir / "math" / split
    if not root.is_dir():
        return None

    def key(p: Path) -> tuple[int, str]:
        return (int(p.stem), p.name) if p.stem.isdigit() else (1 << 62, p.name)

    def gen() -> Iterator[ProblemDict | None]:
        for subject_dir in sorted(d for d in root.iterdir() if d.is_dir()):
            for path in sorted(subject_dir.glob("*.json"), key=key):
                row = read_json(path)
                if not isinstance(row, Mapping):
                    raise ConfigError(f"{path}: expected a JSON object")
                rel = f"{subject_dir.name}/{path.stem}"
                try:
                    yield _math_record(
                        "math",
                        f"math/{split}/{rel}",
                        row,
                        {
                            "subject": row.get("type"),
                            "level": level(row.get("level")),
                            "unique_id": f"{split}/{rel}.json",
                        },
                    )
                except SkipRow as exc:
                    log.warning("%s: skipped: %s", path, exc)
                    yield None
                except (RowError, KeyError) as exc:
                    raise ConfigError(f"{path}: {exc}") from None

    return gen()


def _map_math500(row: Row, index: int, split: str) -> ProblemDict:
    return _math_record(
        "math500",
        f"math500/{split}/{index}",
        row,
        {
            "subject": row.get("subject"),
            "level": level(row.get("level")),
            "unique_id": row.get("unique_id"),
            "index": index,
        },
    )


_AIME_URL = re.compile(r"/(\d{4})_AIME_(I{1,2})_Problems/Problem_(\d+)")
_AMC_URL = re.compile(r"/(\d{4})_AMC_(\w+?)_Problems/Problem_(\d+)")


def _contest_meta(url: Any, pattern: re.Pattern[str], prefix: str) -> dict[str, Any]:
    if not isinstance(url, str):
        return {}
    m = pattern.search(url)
    if not m:
        return {"url": url}
    return {
        "year": int(m.group(1)),
        "contest": f"{prefix} {m.group(2)}",
        "problem_number": int(m.group(3)),
        "url": url,
    }


def _map_aime24(row: Row, index: int, split: str) -> ProblemDict:
    meta = {"year": 2024, **_contest_meta(row.get("url"), _AIME_URL, "AIME")}
    ident = row.get("id", index)
    return _math_record("aime24", f"aime24/{split}/{ident}", row, meta)


def _map_aime25(row: Row, index: int, split: str) -> ProblemDict:
    meta = {"year": 2025, **_contest_meta(row.get("url"), _AIME_URL, "AIME")}
    return _math_record("aime25", f"aime25/{split}/{index}", row, meta)


def _map_amc23(row: Row, index: int, split: str) -> ProblemDict:
    meta = {"year": 2023, **_contest_meta(row.get("url"), _AMC_URL, "AMC")}
    ident = row.get("id", index)
    fixed = dict(row)
    fixed.setdefault("problem", row.get("question"))
    return _math_record("amc23", f"amc23/{split}/{ident}", fixed, meta)


def _map_aime_hist(row: Row, index: int, split: str) -> ProblemDict:
    year, number, part = row.get("year"), row.get("problem_number"), row.get("aime_number")
    meta = {
        "year": year,
        "contest": f"AIME {'I' * int(part)}" if isinstance(part, int) and part in (1, 2) else None,
        "problem_number": number,
        "difficulty": row.get("difficulty"),
    }
    return _math_record("aime", f"aime/{split}/{index}", row, meta)


def _map_gsm8k(row: Row, index: int, split: str) -> ProblemDict:
    parts = gsm8k_split(str(row.get("answer", "")))
    if parts is None:
        raise RowError("GSM8K answer without '#### '")
    rationale, final = parts
    return {
        "id": f"gsm8k/{split}/{index}",
        "domain": "math",
        "source": "gsm8k",
        "problem": row["question"],
        "answer": final,
        "solution": rationale or None,
        "meta": {},
    }


#: The AIME and AMC statements carry no license of their own.
_MAA = "statements © Mathematical Association of America"

#: The math datasets, in the order help texts list them.
MATH_DATASETS: tuple[DatasetSpec, ...] = (
    DatasetSpec(
        "math",
        "MATH (Hendrycks et al.): 5,000 test / 7,500 train problems",
        ("test", "train"),
        _load_math,
        HfSource(
            "DigitalLearningGmbH/MATH-lighteval", "default", same_splits("test", "train"), _map_math
        ),
        license="MIT",
    ),
    DatasetSpec(
        "math500",
        "MATH500: the 500-problem PRM800K test subset of MATH",
        ("test",),
        jsonl_loader("math500/test.jsonl", _map_math500),
        HfSource("HuggingFaceH4/MATH-500", None, same_splits("test"), _map_math500),
        license="MIT",
    ),
    DatasetSpec(
        "aime24",
        "AIME 2024 I+II (30 problems)",
        ("test",),
        jsonl_loader("aime24/test.jsonl", _map_aime24),
        HfSource("HuggingFaceH4/aime_2024", None, {"test": "train"}, _map_aime24),
        rights=_MAA,
    ),
    DatasetSpec(
        "aime25",
        "AIME 2025 I+II (30 problems)",
        ("test",),
        jsonl_loader("aime25/test.jsonl", _map_aime25),
        HfSource("math-ai/aime25", None, same_splits("test"), _map_aime25),
        rights=_MAA,
    ),
    DatasetSpec(
        "amc23",
        "AMC 12 2023 A+B (40 problems)",
        ("test",),
        jsonl_loader("amc23/test.jsonl", _map_amc23),
        HfSource("math-ai/amc23", None, same_splits("test"), _map_amc23),
        rights=_MAA,
    ),
    DatasetSpec(
        "aime",
        "AIME 1983-2023 (975 problems, for training)",
        ("train",),
        json_loader("aime_1983_2023/rllm_train_aime.json", _map_aime_hist),
        rights=_MAA,
    ),
    DatasetSpec(
        "gsm8k",
        "GSM8K grade-school math (1,319 test / 7,473 train)",
        ("test", "train"),
        jsonl_loader(lambda split: f"gsm8k/{split}.jsonl", _map_gsm8k),
        HfSource("openai/gsm8k", "main", same_splits("test", "train"), _map_gsm8k),
        license="MIT",
    ),
)
