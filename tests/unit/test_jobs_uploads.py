"""Uploads: raw, gzip and zip bodies; the limit applies to the uncompressed size; bombs stop."""

from __future__ import annotations

import asyncio
import gzip
import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from geobatch.jobs import uploads
from geobatch.jobs.errors import BadJobRequest

DATA = b"Id|Query\n1|Vaduz\n" * 100


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 1000):
        yield data[start : start + 1000]


def _receive_and_unpack(tmp_path: Path, body: bytes, limit: int) -> bytes:
    raw, dest = tmp_path / "raw", tmp_path / "dest"
    asyncio.run(uploads.receive(_chunks(body), raw, limit))
    uploads.unpack(raw, dest, limit)
    assert not raw.exists()
    return dest.read_bytes()


def _zip(data: bytes, name: str = "input.txt") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("folder/", b"")
        archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "body",
    [DATA, gzip.compress(DATA), gzip.compress(DATA[:800]) + gzip.compress(DATA[800:]), _zip(DATA)],
)
def test_bodies_are_unpacked(tmp_path: Path, body: bytes) -> None:
    assert _receive_and_unpack(tmp_path, body, 10_000) == DATA


def test_raw_body_over_the_limit_stops_while_receiving(tmp_path: Path) -> None:
    with pytest.raises(BadJobRequest, match="too large"):
        asyncio.run(uploads.receive(_chunks(DATA), tmp_path / "raw", len(DATA) - 1))
    assert not (tmp_path / "raw").exists()


@pytest.mark.parametrize("pack", [gzip.compress, _zip])
def test_compressed_bomb_is_measured_uncompressed(tmp_path: Path, pack: object) -> None:
    bomb = pack(b"0" * 5_000_000)  # type: ignore[operator]
    assert len(bomb) < 50_000
    with pytest.raises(BadJobRequest, match="uncompressed data exceeds the limit"):
        _receive_and_unpack(tmp_path, bomb, 1_000_000)
    assert not (tmp_path / "dest").exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (gzip.compress(DATA)[:-20], "gzip-compressed upload is damaged"),
        (b"PK\x03\x04garbage", "zip upload is damaged"),
        (_zip(b"", "empty.txt"), "empty"),
        (gzip.compress(b""), "empty"),
    ],
)
def test_damaged_or_empty_uploads(tmp_path: Path, body: bytes, message: str) -> None:
    with pytest.raises(BadJobRequest, match=message):
        _receive_and_unpack(tmp_path, body, 10_000)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://data.example.org/f.xml", "schemes: https"),
        ("https://evil.example.com/f.xml", "does not fetch data from 'evil.example.com'"),
        ("file:///etc/passwd", "schemes"),
        ("https://data.example.org:8443/f", "does not fetch"),
    ],
)
def test_data_location_allow_list(url: str, message: str) -> None:
    with pytest.raises(BadJobRequest, match=message):
        uploads.check_data_location(url, frozenset({"data.example.org"}), frozenset({"https"}))


def test_data_location_allowed() -> None:
    uploads.check_data_location(
        "https://DATA.example.org/f.csv?sig=1",
        frozenset({"data.example.org"}),
        frozenset({"https"}),
    )
