"""Builds the benchmark n-gram index shipped in the package for ``collect --decontaminate``.

Reads the evaluation benchmarks (MATH500, AIME 2024/2025, AMC 2023, GSM8K test, HumanEval,
MBPP test, LiveCodeBench) from a data directory with the collect loaders and writes the 13-gram
hashes and ids of their problems, no text, to ``python/sfstream/data/benchmark_ngrams.json.gz``
(or ``--out``). The output is byte-for-byte the same for the same data.

    python scripts/build_benchmark_ngrams.py --data-dir DATA
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from sfstream.collect import iter_problems
from sfstream.collect.decontaminate import BENCHMARKS, DEFAULT_NGRAM, SHIPPED, shipped_index_bytes

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "python" / "sfstream" / "data" / SHIPPED)
    args = parser.parse_args()
    problems = [
        replace(p, source=name)
        for name, split in BENCHMARKS
        for p in iter_problems([name], split=split, data_dir=args.data_dir)
    ]
    data = shipped_index_bytes(problems, DEFAULT_NGRAM)
    args.out.write_bytes(data)
    print(f"{args.out}: {len(problems)} benchmark problems, {len(data):,} bytes")


if __name__ == "__main__":
    main()
