"""Every command refuses bad input with exactly one ``geobatch: error:`` line and a non-zero exit
code — never a traceback, never a half-done action (nothing written where it should not be)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from geobatch.cli.main import TRACEBACK_ENV, run

HUGE = "99999999999999999999999"

# (case, argv, environment, exit code, a fragment of the message). In argv and the environment,
# {tmp} is a scratch folder holding in.csv, a file 'plain', an empty folder 'empty', a folder
# 'other' holding someone else's file, and a data directory 'data' (with a key, id 1); {port} is
# a port another socket listens on.
CASES: list[tuple[str, list[str], dict[str, str], int, str]] = [
    # global options and settings
    ("index is a file", ["--index", "{tmp}/plain", "info"], {}, 2, "is a file"),
    ("index is a device", ["--index", "/dev/null", "info"], {}, 2, "/dev/null is not a directory"),
    ("env index is a device", ["info"], {"GEOBATCH_INDEX": "/dev/null"}, 2, "GEOBATCH_INDEX"),
    (
        "env workers zero",
        ["info"],
        {"GEOBATCH_WORKERS": "0"},
        2,
        "GEOBATCH_WORKERS='0' must be at least 1",
    ),
    ("env workers text", ["info"], {"GEOBATCH_WORKERS": "many"}, 2, "must be a whole number"),
    ("env upload huge", ["info"], {"GEOBATCH_MAX_UPLOAD_MB": HUGE}, 2, "must be at most"),
    ("env chunk negative", ["info"], {"GEOBATCH_CHUNK_SIZE": "-5"}, 2, "must be at least 1"),
    (
        "env retention nan",
        ["info"],
        {"GEOBATCH_RETENTION_DAYS": "nan"},
        2,
        "must be a finite number",
    ),
    ("env sweep inf", ["info"], {"GEOBATCH_SWEEP_SECONDS": "inf"}, 2, "must be a finite number"),
    ("env excel-safe word", ["info"], {"GEOBATCH_EXCEL_SAFE": "maybe"}, 2, "GEOBATCH_EXCEL_SAFE"),
    ("unknown command", ["frobnicate"], {}, 2, "No such command"),
    # import
    ("import nothing", ["import"], {}, 2, "Missing argument"),
    ("import missing file", ["import", "{tmp}/nope.pbf"], {}, 2, "not found"),
    ("import a folder", ["import", "{tmp}/empty"], {}, 2, "is a directory"),
    ("import into a file", ["import", "{tmp}/in.csv", "--index", "{tmp}/plain"], {}, 2, "file"),
    # geocode / reverse
    (
        "geocode chunk huge",
        ["geocode", "{tmp}/in.csv", "-o", "-", "--chunk-size", HUGE],
        {},
        2,
        "1<=x<=1000000",
    ),
    (
        "geocode chunk zero",
        ["geocode", "{tmp}/in.csv", "-o", "-", "--chunk-size", "0"],
        {},
        2,
        "--chunk-size",
    ),
    (
        "geocode workers huge",
        ["geocode", "{tmp}/in.csv", "-o", "-", "--workers", HUGE],
        {},
        2,
        "1<=x<=256",
    ),
    (
        "geocode max-results",
        ["geocode", "{tmp}/in.csv", "-o", "-", "--max-results", "0"],
        {},
        2,
        "--max-results",
    ),
    (
        "geocode output folder missing",
        ["geocode", "{tmp}/in.csv", "-o", "{tmp}/no/out.csv"],
        {},
        2,
        "does not exist",
    ),
    (
        "geocode output under a file",
        ["geocode", "{tmp}/in.csv", "-o", "{tmp}/plain/out.csv"],
        {},
        2,
        "is not a directory",
    ),
    (
        "geocode output is a folder",
        ["geocode", "{tmp}/in.csv", "-o", "{tmp}/empty"],
        {},
        2,
        "is a directory",
    ),
    ("geocode no output", ["geocode", "{tmp}/in.csv"], {}, 2, "--output"),
    ("geocode input missing", ["geocode", "{tmp}/nope.csv", "-o", "-"], {}, 2, "not found"),
    (
        "geocode index device",
        ["geocode", "{tmp}/in.csv", "-o", "-", "--index", "/dev/null"],
        {},
        2,
        "not a directory",
    ),
    (
        "geocode excel flag value",
        ["geocode", "{tmp}/in.csv", "-o", "-", "--excel-safe=no"],
        {},
        2,
        "--excel-safe",
    ),
    (
        "reverse chunk huge",
        ["reverse", "{tmp}/in.csv", "-o", "-", "--chunk-size", HUGE],
        {},
        2,
        "--chunk-size",
    ),
    (
        "reverse workers text",
        ["reverse", "{tmp}/in.csv", "-o", "-", "--workers", "all"],
        {},
        2,
        "--workers",
    ),
    (
        "reverse output folder missing",
        ["reverse", "{tmp}/in.csv", "-o", "{tmp}/no/o.csv"],
        {},
        2,
        "does not exist",
    ),
    # info
    ("info index file", ["info", "--index", "{tmp}/plain"], {}, 2, "is a file"),
    # serve
    ("serve port huge", ["serve", "--port", HUGE], {}, 2, "--port"),
    ("serve port negative", ["serve", "--port=-1"], {}, 2, "--port"),
    ("serve host unknown", ["serve", "--host", "no such host!", "--port", "1"], {}, 2, "--host"),
    ("serve port in use", ["serve", "--host", "127.0.0.1", "--port", "{port}"], {}, 2, "in use"),
    ("serve workers zero", ["serve", "--workers", "0"], {}, 2, "--workers"),
    ("serve data-dir device", ["serve", "--data-dir", "/dev/null"], {}, 2, "not a directory"),
    (
        "serve data-dir foreign",
        ["serve", "--data-dir", "{tmp}/other"],
        {},
        2,
        "not a geobatch data",
    ),
    (
        "serve env data-dir foreign",
        ["serve"],
        {"GEOBATCH_DATA_DIR": "{tmp}/other"},
        2,
        "GEOBATCH_DATA_DIR",
    ),
    ("serve index device", ["serve", "--index", "/dev/null"], {}, 2, "not a directory"),
    # keys
    (
        "keys create limit huge",
        ["keys", "create", "--name", "x", "--daily-limit", HUGE],
        {},
        2,
        "use 'unlimited'",
    ),
    (
        "keys create limit negative",
        ["keys", "create", "--name", "x", "--daily-limit", "-1"],
        {},
        2,
        "negative",
    ),
    (
        "keys create limit text",
        ["keys", "create", "--name", "x", "--daily-limit", "lots"],
        {},
        2,
        "whole number",
    ),
    (
        "keys create limit underscores",
        ["keys", "create", "--name", "x", "--daily-limit", "1_000"],
        {},
        2,
        "whole number",
    ),
    (
        "keys create limit float",
        ["keys", "create", "--name", "x", "--daily-limit", "1.5"],
        {},
        2,
        "whole number",
    ),
    ("keys create no name", ["keys", "create"], {}, 2, "--name"),
    ("keys create blank name", ["keys", "create", "--name", "  "], {}, 2, "the name is empty"),
    ("keys create name with tab", ["keys", "create", "--name", "a\tb"], {}, 2, "control character"),
    (
        "keys create name with newline",
        ["keys", "create", "--name", "a\nb"],
        {},
        2,
        "control character",
    ),
    ("keys create name too long", ["keys", "create", "--name", "n" * 201], {}, 2, "at most 200"),
    (
        "keys create name not utf-8",
        ["keys", "create", "--name", "caf\udce9"],
        {},
        2,
        "not valid UTF-8",
    ),
    (
        "keys create bad email",
        ["keys", "create", "--name", "x", "--email", "nope"],
        {},
        2,
        "e-mail",
    ),
    (
        "keys create email domain with space",
        ["keys", "create", "--name", "x", "--email", "a@example .org"],
        {},
        2,
        "e-mail",
    ),
    (
        "keys create email empty part",
        ["keys", "create", "--name", "x", "--email", "a@"],
        {},
        2,
        "e-mail",
    ),
    (
        "keys create data-dir foreign",
        ["keys", "create", "--name", "x", "--data-dir", "{tmp}/other"],
        {},
        2,
        "not a geobatch data",
    ),
    (
        "keys create data-dir file",
        ["keys", "create", "--name", "x", "--data-dir", "{tmp}/plain"],
        {},
        2,
        "is a file",
    ),
    (
        "keys list data-dir device",
        ["keys", "list", "--data-dir", "/dev/null"],
        {},
        2,
        "not a directory",
    ),
    (
        "keys list env data-dir foreign",
        ["keys", "list"],
        {"GEOBATCH_DATA_DIR": "{tmp}/other"},
        2,
        "GEOBATCH_DATA_DIR",
    ),
    ("keys revoke huge", ["keys", "revoke", HUGE], {}, 2, "KEY_ID"),
    ("keys revoke zero", ["keys", "revoke", "0"], {}, 2, "KEY_ID"),
    ("keys revoke text", ["keys", "revoke", "abc"], {}, 2, "KEY_ID"),
    ("keys revoke unknown", ["keys", "revoke", "42"], {}, 2, "no key 42"),
]


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "in.csv").write_text("q,lat,lon\nVaduz,47.1,9.5\n")
    (tmp_path / "plain").write_text("just a file\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("someone else's\n")
    for name in list(os.environ):
        if name.startswith("GEOBATCH_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GEOBATCH_INDEX", str(tmp_path / "index"))
    monkeypatch.setenv("GEOBATCH_DATA_DIR", str(tmp_path / "data"))
    assert run(["keys", "create", "--name", "existing"]) == 0
    return tmp_path


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.mark.parametrize(
    ("case", "argv", "env", "code", "fragment"), CASES, ids=[case[0] for case in CASES]
)
def test_bad_input_is_one_clear_line(
    scratch: Path,
    busy_port: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    argv: list[str],
    env: dict[str, str],
    code: int,
    fragment: str,
) -> None:
    def fill(text: str) -> str:
        return text.replace("{tmp}", str(scratch)).replace("{port}", str(busy_port))

    for name, value in env.items():
        monkeypatch.setenv(name, fill(value))
    capsys.readouterr()
    before = sorted(p.relative_to(scratch) for p in scratch.rglob("*"))
    assert run([fill(arg) for arg in argv]) == code
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("geobatch: error: ")
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in err and out == ""
    # Nothing was made: no index built, no data directory or output file created.
    assert sorted(p.relative_to(scratch) for p in scratch.rglob("*")) == before


def test_an_unexpected_error_is_still_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from geobatch.jobs import keys

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(keys, "create_key", broken)
    monkeypatch.delenv(TRACEBACK_ENV, raising=False)
    assert run(["keys", "create", "--name", "x", "--data-dir", str(tmp_path / "d")]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "unexpected ZeroDivisionError: a bug" in lines[0]
    assert TRACEBACK_ENV in lines[0]
    monkeypatch.setenv(TRACEBACK_ENV, "1")
    assert run(["keys", "create", "--name", "x", "--data-dir", str(tmp_path / "d")]) == 1
    assert "Traceback" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra",
    [
        ["--name", "Zoë Ünal-Smith (Zürich)"],
        ["--name", "x", "--email", "Sample User@example.org"],
        ["--name", "x", "--email", " ada@example.org "],
        ["--name", "x", "--daily-limit", "0"],
        ["--name", "x", "--daily-limit", "1000000000000"],
        ["--name", "x", "--daily-limit", "UNLIMITED"],
        ["--name", "n" * 200],
    ],
)
def test_unusual_but_good_values_are_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    assert run(["keys", "create", *extra, "--data-dir", str(tmp_path / "d")]) == 0
    assert len(capsys.readouterr().out.strip()) == 64
