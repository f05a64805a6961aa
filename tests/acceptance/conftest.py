"""Fixtures that start real servers: ``geobatch serve`` in a subprocess on 127.0.0.1 with a free
port and a temporary data directory, over an index built once per session (the built-in
gazetteer plus the two-villages OSM fixture). Every server is stopped by its fixture."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from geobatch.index.build import ensure_builtin, import_source
from geobatch.sources.osm import OsmSource
from tests.conftest import REPO_ROOT, shared_spec_file

GEOBATCH = Path(sys.executable).parent / "geobatch"
START_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0

pytestmark = pytest.mark.acceptance


def spec_file(relative: str) -> Path:
    """A Bing sample under ../shared/spec/bing-samples (skips or fails where absent)."""
    return shared_spec_file(relative.removeprefix("bing-samples/"))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GEOBATCH), *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


@dataclass
class Server:
    """A running ``geobatch serve``; ``keys`` maps names to secrets made with the CLI."""

    data_dir: Path
    index_dir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    keys: dict[str, str] = field(default_factory=dict)
    log: Path | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_key(self, name: str, *extra: str) -> str:
        args = ("keys", "create", "--name", name, "--data-dir", str(self.data_dir), *extra)
        done = run_cli(*args, env=self.env)  # with the server's settings
        assert done.returncode == 0, done.stderr
        secret = done.stdout.strip()
        self.keys[name] = secret
        return secret

    def start(self) -> Server:
        self.log = self.data_dir.parent / f"server-{self.port}.log"
        args = ["serve", "--host", "127.0.0.1", "--port", str(self.port)]
        args += ["--index", str(self.index_dir), "--data-dir", str(self.data_dir)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(GEOBATCH), *args], stdout=log, stderr=subprocess.STDOUT, env=self.env
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.base}/openapi.json", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server did not start in {START_TIMEOUT} s")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(STOP_TIMEOUT)
            self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT)
        self.process = None

    def restart(self) -> Server:
        self.port = free_port()
        return self.start()


def server_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEOBATCH_")}
    # No preload: most servers here never answer a single request, and each load is ~0.5 GB.
    env.update({"GEOBATCH_WORKERS": "1", "GEOBATCH_SWEEP_SECONDS": "3600", "GEOBATCH_PRELOAD": "0"})
    env.update(overrides)
    return env


@pytest.fixture(scope="session")
def acceptance_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index = tmp_path_factory.mktemp("acceptance-index")
    ensure_builtin(index)
    import_source(
        index, OsmSource(REPO_ROOT / "tests" / "fixtures" / "geocode" / "twovillages.osm")
    )
    return index


def start_server(
    tmp_path_factory: pytest.TempPathFactory, index: Path, key_names: tuple[str, ...], **env: str
) -> Server:
    data_dir = tmp_path_factory.mktemp("server") / "data"
    server = Server(data_dir=data_dir, index_dir=index, env=server_env(**env))
    for name in key_names:
        server.add_key(name)
    return server.start()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, acceptance_index: Path) -> Iterator[Server]:
    """The shared server: keys ``alice`` and ``bob``, default limits, chunks of 1000 rows."""
    running = start_server(
        tmp_path_factory,
        acceptance_index,
        ("alice", "bob"),
        GEOBATCH_MAX_PENDING_JOBS="100",
        GEOBATCH_MAX_JOBS_PER_DAY="1000",
    )
    yield running
    running.stop()


@pytest.fixture(scope="session")
def limited_server(
    tmp_path_factory: pytest.TempPathFactory, acceptance_index: Path
) -> Iterator[Server]:
    """Small limits: 1 MB uploads, 20 entities, 2 pending jobs, 4 jobs a day per key."""
    running = start_server(
        tmp_path_factory,
        acceptance_index,
        ("small", "pending", "daily"),
        GEOBATCH_MAX_UPLOAD_MB="1",
        GEOBATCH_MAX_ENTITIES="20",
        GEOBATCH_MAX_PENDING_JOBS="2",
        GEOBATCH_MAX_JOBS_PER_DAY="4",
    )
    yield running
    running.stop()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as c:
        yield c
