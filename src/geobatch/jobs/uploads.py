"""Uploads: stream a request body (or a fetched ``dataLocation``) to disk and unpack gzip or zip,
enforcing the size limit on the *uncompressed* data as it is written, never trusting a header.

Compression is recognised by its magic bytes whatever the Content-Type says (clients differ).
"""

from __future__ import annotations

import gzip
import os
import time
import zipfile
import zlib
from collections.abc import AsyncIterable, Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Literal
from urllib.parse import urlsplit

from geobatch.jobs.errors import BadJobRequest

BLOCK = 1024 * 1024
DRAIN_BYTES = 64 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"

Packing = Literal["gzip", "zip", "raw"]


def _too_big(max_bytes: int, compressed: bool = False) -> BadJobRequest:
    what = "uncompressed data" if compressed else "data"
    return BadJobRequest(
        f"the upload is too large: its {what} exceeds the limit of {_size(max_bytes)} per job "
        "(compressed uploads are measured uncompressed); split it into smaller jobs"
    )


def _size(count: int) -> str:
    if count % (1024 * 1024) == 0:
        return f"{count // (1024 * 1024):,} MB"
    return f"{count:,} bytes"


class _LimitedWriter:
    """Write to a file, refusing to go past ``max_bytes``."""

    def __init__(self, out: BinaryIO, max_bytes: int, compressed: bool) -> None:
        self.out, self.max_bytes, self.compressed, self.written = out, max_bytes, compressed, 0

    def write(self, data: bytes) -> None:
        self.written += len(data)
        if self.written > self.max_bytes:
            raise _too_big(self.max_bytes, self.compressed)
        self.out.write(data)


async def read_limited(
    chunks: AsyncIterable[bytes],
    max_bytes: int,
    write: Callable[[bytes], object],
    too_big: Callable[[], Exception],
    drain_bytes: int = DRAIN_BYTES,
) -> int:
    """Pass a request body's chunks to ``write``; return its size, or raise ``too_big()`` once
    it passes ``max_bytes``.

    An oversize body is still read (not kept) up to ``drain_bytes`` more, so that the client
    gets the error response instead of a connection reset in the middle of its upload.
    """
    size = 0
    iterator = aiter(chunks)
    async for chunk in iterator:
        size += len(chunk)
        if size > max_bytes:
            drained = 0
            async for rest in iterator:
                drained += len(rest)
                if drained > drain_bytes:
                    break
            raise too_big()
        write(chunk)
    return size


@contextmanager
def _receiving(dest: Path) -> Iterator[BinaryIO]:
    """``dest`` open for writing, removed again if anything goes wrong while it is written."""
    try:
        with dest.open("wb") as out:
            yield out
    except BaseException:
        dest.unlink(missing_ok=True)
        raise


async def receive(
    chunks: AsyncIterable[bytes], dest: Path, max_bytes: int, drain_bytes: int = DRAIN_BYTES
) -> int:
    """Write a request body to ``dest`` as it arrives; return its size. Removes it on failure
    (an oversize body, a client that disconnects); see :func:`read_limited`."""
    with _receiving(dest) as out:
        return await read_limited(
            chunks, max_bytes, out.write, lambda: _too_big(max_bytes), drain_bytes
        )


def receive_sync(chunks: Iterable[bytes], dest: Path, max_bytes: int) -> int:
    """:func:`receive` for an ordinary iterable (a fetched URL, tests); nothing is drained."""
    with _receiving(dest) as out:
        writer = _LimitedWriter(out, max_bytes, compressed=False)
        for chunk in chunks:
            writer.write(chunk)
        return writer.written


def sniff(path: Path) -> Packing:
    with path.open("rb") as f:
        head = f.read(4)
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head == ZIP_MAGIC:
        return "zip"
    return "raw"


def unpack(raw: Path, dest: Path, max_bytes: int) -> int:
    """Move or decompress ``raw`` to ``dest`` (``raw`` is consumed); return the data size.

    Raises :class:`BadJobRequest` for empty, damaged or oversize data; ``dest`` is then absent.
    """
    try:
        packing = sniff(raw)
        if packing == "raw":
            size = raw.stat().st_size
            if size > max_bytes:
                raise _too_big(max_bytes)
            os.replace(raw, dest)
        else:
            with dest.open("wb") as out:
                writer = _LimitedWriter(out, max_bytes, compressed=True)
                if packing == "gzip":
                    _gunzip(raw, writer)
                else:
                    _unzip_first(raw, writer)
                size = writer.written
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    finally:
        raw.unlink(missing_ok=True)
    if size == 0:
        dest.unlink(missing_ok=True)
        raise BadJobRequest("the upload is empty: post the batch file as the request body")
    return size


def _gunzip(raw: Path, writer: _LimitedWriter) -> None:
    try:
        with gzip.open(raw, "rb") as stream:
            # read(BLOCK) bounds the memory a highly compressed upload can claim at once.
            while block := stream.read(BLOCK):
                writer.write(block)
    except (OSError, EOFError, zlib.error) as exc:
        raise BadJobRequest(f"the gzip-compressed upload is damaged or truncated: {exc}") from None


def _unzip_first(raw: Path, writer: _LimitedWriter) -> None:
    try:
        with zipfile.ZipFile(raw) as archive:
            entries = [info for info in archive.infolist() if not info.is_dir()]
            if not entries:
                raise BadJobRequest("the zip upload holds no file")
            # The first entry, as the Bing toolkit does; its declared size is not trusted.
            with archive.open(entries[0]) as stream:
                while block := stream.read(BLOCK):
                    writer.write(block)
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
        raise BadJobRequest(f"the zip upload is damaged or cannot be read: {exc}") from None


def check_data_location(url: str, hosts: frozenset[str], schemes: frozenset[str]) -> None:
    """Refuse a ``dataLocation`` URL whose scheme or host is not allowed."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        allowed = ", ".join(sorted(schemes)) or "none"
        raise BadJobRequest(
            f"dataLocation must use one of these schemes: {allowed} (got {scheme or 'none'!r})"
        )
    host = (parts.hostname or "").lower()
    # A bare host allows the scheme's default port only; other ports must be listed as host:port.
    default_port = parts.port is None or parts.port == {"http": 80, "https": 443}.get(scheme)
    with_port = host if parts.port is None else f"{host}:{parts.port}"
    if not ((default_port and host in hosts) or with_port in hosts):
        raise BadJobRequest(
            f"this server does not fetch data from {with_port or 'that URL'!r}; "
            "post the data in the request body instead"
        )


def fetch(
    url: str, dest: Path, max_bytes: int, timeout: float = 60.0, deadline: float = 300.0
) -> int:
    """Download an allowed ``dataLocation`` to ``dest`` (redirects are not followed).

    ``timeout`` bounds each read; ``deadline`` the whole download, so that a host trickling
    bytes cannot hold the thread for ever. A body announced larger than ``max_bytes`` is
    refused before any of it is read.
    """
    import httpx

    give_up = time.monotonic() + deadline

    def before_deadline(blocks: Iterable[bytes]) -> Iterator[bytes]:
        for block in blocks:
            if time.monotonic() > give_up:
                raise BadJobRequest(
                    f"dataLocation took longer than {deadline:g} seconds to download; "
                    "post the data in the request body instead"
                )
            yield block

    try:
        with (
            httpx.Client(follow_redirects=False, timeout=min(timeout, deadline)) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise BadJobRequest(
                    f"dataLocation returned HTTP {response.status_code}; the server needs "
                    "a URL that answers 200 with the batch file"
                )
            announced = response.headers.get("content-length", "").strip()
            if announced.isdigit() and int(announced) > max_bytes:
                raise _too_big(max_bytes)
            # No chunk size: httpx would buffer up to it, and a trickle would never reach the
            # deadline check; network reads are bounded (64 KiB) anyway.
            return receive_sync(before_deadline(response.iter_raw()), dest, max_bytes)
    except httpx.HTTPError as exc:
        raise BadJobRequest(f"dataLocation could not be fetched: {exc}") from None
