"""Shared pytest fixtures: where the shared data lives, and whether its absence skips or fails."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("GEOBATCH_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
REQUIRE_SHARED = os.environ.get("GEOBATCH_REQUIRE_SHARED") == "1"
SHARED_SPEC_SAMPLES = REPO_ROOT.parent / "shared" / "spec" / "bing-samples"


def shared_file(relative: str) -> Path:
    """The path of a file under ../shared/data; skips (or fails in CI) when it is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        reason = f"needs {path} (the shared test data beside the checkout); it is absent"
        if REQUIRE_SHARED:
            pytest.fail(reason + " and GEOBATCH_REQUIRE_SHARED=1 makes it mandatory")
        pytest.skip(reason)
    return path


def shared_spec_file(relative: str) -> Path:
    """The path of a file under ../shared/spec/bing-samples; skips (or fails in CI) when absent."""
    path = SHARED_SPEC_SAMPLES / relative
    if not path.exists():
        reason = f"needs {path} (the shared spec samples beside the checkout); it is absent"
        if REQUIRE_SHARED:
            pytest.fail(reason + " and GEOBATCH_REQUIRE_SHARED=1 makes it mandatory")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The ../shared/data folder; skips the test where it is absent (a user's fresh machine)."""
    return shared_file(".")
