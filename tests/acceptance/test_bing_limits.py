"""Limits against a real server with small settings: entity count, upload size (raw and
compressed), jobs per day, the key's daily quota; and a revoked key."""

from __future__ import annotations

import gzip

import httpx
import pytest

from tests.acceptance import bing_client as bing
from tests.acceptance.conftest import Server, run_cli

pytestmark = pytest.mark.acceptance

HEAD = "Bing Spatial Data Services, 2.0\nId|GeocodeRequest/Query\n"


def pipe_job(count: int) -> bytes:
    return (
        HEAD + "".join(f"{i}|Hauptstrasse {i % 9 + 1}, Oberdorf\n" for i in range(count))
    ).encode()


def test_too_many_entities_aborts_with_a_reason(
    limited_server: Server, client: httpx.Client
) -> None:
    key = limited_server.keys["small"]
    _, ok = bing.run_job(client, limited_server.base, key, pipe_job(20), "pipe")
    assert (ok.status, ok.total) == ("Completed", 20)
    _, big = bing.run_job(client, limited_server.base, key, pipe_job(21), "pipe")
    assert big.status == "Aborted"
    assert big.error_message and "more than 20 entities" in big.error_message
    assert set(big.links) == {"self"}


def test_oversize_upload_is_refused(limited_server: Server, client: httpx.Client) -> None:
    body = HEAD.encode() + b"1|" + b"x" * (1024 * 1024 + 10) + b"\n"
    response = bing.create(client, limited_server.base, limited_server.keys["small"], body, "pipe")
    assert response.status_code == 400
    assert "too large" in response.json()["errorDetails"][0]


def test_compression_bomb_is_measured_uncompressed(
    limited_server: Server, client: httpx.Client
) -> None:
    body = gzip.compress(HEAD.encode() + b"1|" + b" " * (20 * 1024 * 1024) + b"\n")
    assert len(body) < 100_000
    response = bing.create(client, limited_server.base, limited_server.keys["small"], body, "pipe")
    assert response.status_code == 400
    message = response.json()["errorDetails"][0]
    assert "uncompressed data exceeds the limit of 1 MB" in message


def test_jobs_per_day_limit_is_503(limited_server: Server, client: httpx.Client) -> None:
    key = limited_server.keys["daily"]
    for _ in range(4):
        bing.run_job(client, limited_server.base, key, pipe_job(1), "pipe")
    response = bing.create(client, limited_server.base, key, pipe_job(1), "pipe")
    assert response.status_code == 503
    assert "24 hours" in response.json()["errorDetails"][0]


def test_daily_entity_quota_is_503(limited_server: Server, client: httpx.Client) -> None:
    key = limited_server.add_key("quota", "--daily-limit", "3")
    _, done = bing.run_job(client, limited_server.base, key, pipe_job(3), "pipe")
    assert done.status == "Completed"
    response = bing.create(client, limited_server.base, key, pipe_job(1), "pipe")
    assert response.status_code == 503
    assert "3 of its 3 entities" in response.json()["errorDetails"][0]


def test_revoked_key_is_refused(limited_server: Server, client: httpx.Client) -> None:
    key = limited_server.add_key("short-lived")
    listed = run_cli("keys", "list", "--data-dir", str(limited_server.data_dir))
    line = next(row for row in listed.stdout.splitlines() if "\tshort-lived\t" in row)
    done = run_cli(
        "keys", "revoke", line.split("\t")[0], "--data-dir", str(limited_server.data_dir)
    )
    assert done.returncode == 0, done.stderr
    response = bing.create(client, limited_server.base, key, pipe_job(1), "pipe")
    assert response.status_code == 401
    assert response.json()["authenticationResultCode"] == "CredentialsExpired"
    assert key not in listed.stdout  # only hashes are stored, never shown again
