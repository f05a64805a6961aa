"""A key's daily entity limit against a real server, under concurrent submissions from several
threads: the entities accepted never pass the limit (each job sets its entities aside when it
is created), and what a failed or deleted job did not use can be used again."""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.acceptance import bing_client as bing
from tests.acceptance.conftest import Server, run_cli

pytestmark = pytest.mark.acceptance

HEAD = "Bing Spatial Data Services, 2.0\nId|GeocodeRequest/Query\n"


def pipe_job(count: int, head: str = HEAD) -> bytes:
    return (
        head + "".join(f"{i}|Hauptstrasse {i % 9 + 1}, Oberdorf\n" for i in range(count))
    ).encode()


def used_today(server: Server, name: str) -> int:
    """The key's usage today as `geobatch keys list` shows it (read from the store on disk)."""
    listed = run_cli("keys", "list", "--data-dir", str(server.data_dir))
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if f"\t{name}\t" in line)
    return int(row.split("\t")[4])


def submit_at_once(server: Server, key: str, bodies: list[bytes]) -> list[httpx.Response]:
    """POST every body from a thread of its own, all released at the same moment."""
    start = threading.Barrier(len(bodies))
    responses: list[httpx.Response | None] = [None] * len(bodies)

    def submit(n: int) -> None:
        with httpx.Client(timeout=60) as client:
            start.wait()
            responses[n] = bing.create(client, server.base, key, bodies[n], "pipe")

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(response is not None for response in responses)
    return [response for response in responses if response is not None]


def test_concurrent_jobs_of_one_key_never_pass_its_daily_limit(
    server: Server, client: httpx.Client
) -> None:
    """12 threads send a 30-entity job each against a limit of 100: 3 are accepted, 9 get 503
    with the reason, and the key is charged 90; then 2 of 10 five-entity jobs fill it up."""
    key = server.add_key("race", "--daily-limit", "100")
    responses = submit_at_once(server, key, [pipe_job(30)] * 12)
    assert sorted(r.status_code for r in responses) == [201] * 3 + [503] * 9
    for refused in (r for r in responses if r.status_code == 503):
        body = refused.json()
        assert body["statusCode"] == 503 and body["statusDescription"] == "Service Unavailable"
        message = body["errorDetails"][0]
        assert "of its 100 entities" in message and "set aside for its jobs in progress" in message
    accepted = [r.headers["Location"] for r in responses if r.status_code == 201]
    done = [bing.wait(client, location, key) for location in accepted]
    assert [(job.status, job.processed) for job in done] == [("Completed", 30)] * 3
    assert used_today(server, "race") == 90

    small = submit_at_once(server, key, [pipe_job(5)] * 10)
    assert sorted(r.status_code for r in small) == [201] * 2 + [503] * 8
    refused = next(r for r in small if r.status_code == 503).json()["errorDetails"][0]
    assert "holds up to 5 entities" in refused or "being set aside" in refused
    for response in small:
        if response.status_code == 201:
            assert bing.wait(client, response.headers["Location"], key).status == "Completed"
    assert used_today(server, "race") == 100
    last = bing.create(client, server.base, key, pipe_job(1), "pipe")
    assert last.status_code == 503
    assert "used 100 of its 100 entities for today (UTC)" in last.json()["errorDetails"][0]


def test_what_failed_and_deleted_jobs_did_not_use_is_given_back(
    server: Server, client: httpx.Client
) -> None:
    limit = 2000
    key = server.add_key("giveback", "--daily-limit", str(limit))
    # A file that fails when it is read (an unknown schema version): it sets aside its 2,000
    # lines when it is sent, and gives them back when it is aborted.
    _, failed = bing.run_job(
        client, server.base, key, pipe_job(limit, HEAD.replace("2.0", "3.0")), "pipe"
    )
    assert failed.status == "Aborted" and "schema version 3.0" in (failed.error_message or "")
    assert used_today(server, "giveback") == 0

    # All 2,000 again, deleted at once (on the web API) while it is read or geocoded: whatever
    # it had not geocoded by then is given back.
    created = bing.create(client, server.base, key, pipe_job(limit), "pipe")
    assert created.status_code == 201, created.text
    job_id = created.headers["Location"].rsplit("/", 1)[1]
    deleted = client.delete(f"{server.base}/api/web/jobs/{job_id}", headers={"X-Api-Key": key})
    assert deleted.status_code == 204
    used = used_today(server, "giveback")
    assert used in range(0, limit + 1)

    rest = limit - used
    if rest:
        _, last = bing.run_job(client, server.base, key, pipe_job(rest), "pipe")
        assert (last.status, last.processed) == ("Completed", rest)
    assert used_today(server, "giveback") == limit
    refused = bing.create(client, server.base, key, pipe_job(1), "pipe")
    assert refused.status_code == 503
