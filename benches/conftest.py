"""Benchmarks share the test helpers: the real vLLM server fixture and the fake servers."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

pytest_plugins = ["vllm_server"]
