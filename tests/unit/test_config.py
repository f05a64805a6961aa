"""Settings from the environment: defaults, and a clear refusal of values out of range."""

from __future__ import annotations

from pathlib import Path

import pytest

from geobatch.config import MAX_WORKERS, MB, Settings


def test_defaults() -> None:
    settings = Settings.from_env({"GEOBATCH_INDEX": "/x"})
    assert settings.index_dir == Path("/x")
    assert settings.excel_safe is True
    assert settings.limits.max_upload_bytes == 300 * MB
    assert 1 <= settings.workers <= max(MAX_WORKERS, 1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", False), ("off", False), ("No", False), ("1", True), ("yes", True), ("", True)],
)
def test_excel_safe_switch(value: str, expected: bool) -> None:
    assert Settings.from_env({"GEOBATCH_EXCEL_SAFE": value}).excel_safe is expected


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GEOBATCH_EXCEL_SAFE", "sometimes", "is not one of"),
        ("GEOBATCH_WORKERS", "0", "out of range"),
        ("GEOBATCH_WORKERS", "1e3", "not a whole number"),
        ("GEOBATCH_WORKERS", str(MAX_WORKERS + 1), "out of range"),
        ("GEOBATCH_MAX_UPLOAD_MB", "99999999999999999999", "out of range"),
        ("GEOBATCH_MAX_ENTITIES", "-1", "out of range"),
        ("GEOBATCH_MAX_PENDING_JOBS", "١٠", "not a whole number"),
        ("GEOBATCH_CHUNK_SIZE", "0", "out of range"),
        ("GEOBATCH_RETENTION_DAYS", "0", "out of range"),
        ("GEOBATCH_RETENTION_DAYS", "nan", "out of range"),
        ("GEOBATCH_SWEEP_SECONDS", "-inf", "out of range"),
        ("GEOBATCH_DATA_LOCATION_SECONDS", "soon", "not a number"),
    ],
)
def test_bad_values_are_refused_by_name(name: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        Settings.from_env({name: value})
    assert name in str(caught.value)
