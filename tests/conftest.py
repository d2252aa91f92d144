"""Shared fixtures: async backends, paths to the repository's data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["vllm_server"]

ROOT = Path(__file__).resolve().parents[1]


def public_data_dir() -> Path:
    """Where the large public datasets are: ``$SFSTREAM_TEST_DATA``, else ``../shared/data``
    beside the repository. Tests and benchmarks that need them skip when it is absent."""
    configured = os.environ.get("SFSTREAM_TEST_DATA")
    return Path(configured) if configured else ROOT.parent / "shared" / "data"


SHARED_DATA = public_data_dir()


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Async tests run on asyncio and on trio."""
    return str(request.param)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The public datasets beside the repository; tests that need them skip without them."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"public datasets not found at {SHARED_DATA} (set SFSTREAM_TEST_DATA to their folder)"
        )
    return SHARED_DATA
