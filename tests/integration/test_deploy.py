"""The Dockerfile: linted with hadolint (no container engine runs on this machine, so it is not
built here), and consistent with the server it starts."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from geobatch.api.app import create_app
from geobatch.config import Settings
from tests.conftest import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed (a dev dependency on Linux x86-64 only)")
    done = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_serves_what_it_checks(tmp_path: Path) -> None:
    text = DOCKERFILE.read_text()
    exposed = re.search(r"^EXPOSE (\d+)$", text, re.MULTILINE)
    assert exposed is not None
    assert f'"--port", "{exposed.group(1)}"' in text
    health = re.search(r"http://127\.0\.0\.1:(\d+)(/\w+)", text)
    assert health is not None and health.group(1) == exposed.group(1)
    app = create_app(Settings(index_dir=tmp_path / "i", data_dir=tmp_path / "d"))
    assert health.group(2) in app.openapi()["paths"]
    assert 'VOLUME ["/var/lib/geobatch"]' in text
    assert (
        "GEOBATCH_INDEX=/var/lib/geobatch/" in text
        and "GEOBATCH_DATA_DIR=/var/lib/geobatch/" in text
    )
    assert "GEOBATCH_REQUIRE_NATIVE=1" in text  # the image's engine is the compiled one
