"""Shared fixtures: async backends, paths to the repository's data."""

from __future__ import annotations

from pathlib import Path

import pytest
from public_data import public_data_dir

pytest_plugins = ["vllm_server", "ray_cluster"]

ROOT = Path(__file__).resolve().parents[1]


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
