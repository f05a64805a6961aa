"""Uploads: raw, gzip and zip bodies; the limit applies to the uncompressed size; bombs stop."""

from __future__ import annotations

import asyncio
import gzip
import http.server
import io
import threading
import time
import zipfile
from collections.abc import AsyncIterator, Iterator
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


class _Handler(http.server.BaseHTTPRequestHandler):
    """``/trickle``: a byte every 20 ms for up to 10 s; ``/huge``: announces 10 GB, sends 5 bytes;
    anything else: ``DATA``."""

    def do_GET(self) -> None:
        try:
            self.send_response(200)
            if self.path == "/trickle":
                self.end_headers()
                for _ in range(500):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.02)
            elif self.path == "/huge":
                self.send_header("Content-Length", str(10 * 1024**3))
                self.end_headers()
                self.wfile.write(b"x" * 5)
            else:
                self.send_header("Content-Length", str(len(DATA)))
                self.end_headers()
                self.wfile.write(DATA)
        except OSError:
            pass  # the client gave up, as the tests want it to

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def data_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_fetch_downloads(tmp_path: Path, data_host: str) -> None:
    assert uploads.fetch(f"{data_host}/data", tmp_path / "raw", 10_000) == len(DATA)
    assert (tmp_path / "raw").read_bytes() == DATA


def test_fetch_gives_up_on_a_trickle_at_the_deadline(tmp_path: Path, data_host: str) -> None:
    started = time.monotonic()
    with pytest.raises(BadJobRequest, match=r"longer than 0\.5 seconds"):
        uploads.fetch(f"{data_host}/trickle", tmp_path / "raw", 10_000, deadline=0.5)
    assert time.monotonic() - started < 3  # not the 10 s the trickle would last
    assert not (tmp_path / "raw").exists()


def test_fetch_refuses_an_announced_length_over_the_limit(tmp_path: Path, data_host: str) -> None:
    with pytest.raises(BadJobRequest, match="too large"):
        uploads.fetch(f"{data_host}/huge", tmp_path / "raw", 1_000_000)
    assert not (tmp_path / "raw").exists()


def test_an_oversize_body_is_drained_a_little_then_refused() -> None:
    read: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        for n in range(100):
            read.append(n)
            yield b"x" * 10

    kept: list[bytes] = []
    with pytest.raises(ValueError, match="big"):
        asyncio.run(uploads.read_limited(body(), 25, kept.append, lambda: ValueError("big"), 30))
    assert b"".join(kept) == b"x" * 20
    assert len(read) == 7  # 3 to pass the limit, then 4 drained (past 30 bytes), then stop
