"""Where the large public datasets are, for the tests and benchmarks that read them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def public_data_dir() -> Path:
    """``$SFSTREAM_TEST_DATA``, else ``../shared/data`` beside the repository. Tests and
    benchmarks that need the datasets skip, saying so, when the folder is absent."""
    configured = os.environ.get("SFSTREAM_TEST_DATA")
    return Path(configured) if configured else ROOT.parent / "shared" / "data"


#: 100 MATH test problems with 8 recorded responses each and the recording harness's grades.
MATH_COT_100 = "llm_outputs/math/qwen2.5-math_eval_rm_maj_example_math_cot_100.jsonl"


def recorded_math_samples(data: Path) -> list[Any]:
    """The verified samples of :data:`MATH_COT_100` under ``data``: one per recorded response,
    in file order, graded by the harness that recorded them (``score``)."""
    import orjson
    from sfstream.records import Sample, Verdict

    samples = []
    for line in (data / MATH_COT_100).read_bytes().splitlines():
        row = orjson.loads(line)
        for index, (completion, score) in enumerate(zip(row["code"], row["score"], strict=True)):
            samples.append(
                Sample(
                    id=f"math/test/{row['idx']}",
                    domain="math",
                    source="math",
                    problem=row["question"],
                    answer=row["gt"],
                    meta={"level": row["level"], "subject": row.get("type")},
                    sample_index=index,
                    model="recorded",
                    completion=completion,
                    verdict=Verdict(
                        correct=bool(score), status="correct" if score else "wrong_answer"
                    ),
                )
            )
    return samples
