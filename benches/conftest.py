"""Benchmarks share the test helpers: the real vLLM server fixture and the fake servers."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

pytest_plugins = ["vllm_server"]


def pytest_collection_modifyitems(items: list) -> None:
    """Benchmarks that need the vLLM server run last: once started it stays up for the session,
    and its threads would share the CPUs with the benchmarks timed after it."""
    items.sort(key=lambda item: item.get_closest_marker("vllm") is not None)
