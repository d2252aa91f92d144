"""Where the large public datasets are, for the tests and benchmarks that read them."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def public_data_dir() -> Path:
    """``$SFSTREAM_TEST_DATA``, else ``../shared/data`` beside the repository. Tests and
    benchmarks that need the datasets skip, saying so, when the folder is absent."""
    configured = os.environ.get("SFSTREAM_TEST_DATA")
    return Path(configured) if configured else ROOT.parent / "shared" / "data"
