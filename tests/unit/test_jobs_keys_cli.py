"""``geobatch keys``: create prints the key once, list shows no secret, revoke by id."""

from __future__ import annotations

from pathlib import Path

import pytest

from geobatch.cli.main import run
from geobatch.jobs.errors import NotAuthenticated
from geobatch.jobs.keys import authenticate
from geobatch.jobs.paths import DataPaths
from geobatch.jobs.store import JobStore


def test_create_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "data")
    assert run(["keys", "create", "--name", "Ada", "--email", "a@x.org", "--data-dir", data]) == 0
    secret = capsys.readouterr().out.strip()
    assert len(secret) == 64
    assert run(["keys", "create", "--name", "Bo", "--daily-limit", "500", "--data-dir", data]) == 0
    capsys.readouterr()
    assert run(["keys", "list", "--data-dir", data]) == 0
    listing = capsys.readouterr().out
    assert secret not in listing
    assert "1\tAda\ta@x.org\tunlimited\t0\t" in listing and "2\tBo\t\t500\t0\t" in listing
    assert run(["keys", "revoke", "1", "--data-dir", data]) == 0
    assert run(["keys", "revoke", "1", "--data-dir", data]) == 2
    assert "already revoked" in capsys.readouterr().err
    store = JobStore(DataPaths(Path(data)).database)
    try:
        assert store.list_keys()[0].revoked is not None
        with pytest.raises(NotAuthenticated, match="not valid"):
            authenticate(store, secret.upper())  # key values are case-sensitive
    finally:
        store.close()


@pytest.mark.parametrize("limit", ["-1", "lots"])
def test_bad_daily_limit(tmp_path: Path, limit: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(
        ["keys", "create", "--name", "X", "--daily-limit", limit, "--data-dir", str(tmp_path)]
    )
    assert code == 2 and "daily" in capsys.readouterr().err.lower()
