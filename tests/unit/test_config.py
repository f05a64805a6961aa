"""Settings from defaults, a TOML file and GEOBATCH_* variables: precedence, provenance, and one
clear line for every value that cannot be used."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from geobatch import config
from geobatch.cli.main import run
from geobatch.config import MAX_WORKERS, MB, ConfigError, Settings, load


def test_defaults_without_environment() -> None:
    loaded = load({})
    assert loaded.settings.limits.max_entities == 200_000
    assert loaded.settings.open_access is False
    assert set(loaded.sources.values()) == {"default"}


def test_file_then_environment_override(tmp_path: Path) -> None:
    file = tmp_path / "geobatch.toml"
    file.write_text('workers = 3\nmax_upload_mb = 5\nindex = "~/idx"\nopen_access = true\n')
    loaded = load({"GEOBATCH_WORKERS": "7", "GEOBATCH_CONFIG": str(file)})
    s = loaded.settings
    assert (s.workers, s.limits.max_upload_bytes, s.open_access) == (7, 5 * MB, True)
    assert s.index_dir == Path("~/idx").expanduser()
    assert loaded.sources["workers"] == "GEOBATCH_WORKERS"
    assert loaded.sources["limits.max_upload_bytes"] == str(file)
    assert loaded.sources["chunk_size"] == "default"
    assert loaded.config_file == file


def test_file_may_use_a_geobatch_table(tmp_path: Path) -> None:
    file = tmp_path / "pyproject-like.toml"
    file.write_text('[geobatch]\ndata_location_hosts = ["Example.org", "b.test"]\n')
    hosts = load({}, file).settings.data_location_hosts
    assert hosts == frozenset({"example.org", "b.test"})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GEOBATCH_WORKERS": "abc"}, "GEOBATCH_WORKERS='abc' must be a whole number"),
        ({"GEOBATCH_WORKERS": "0"}, "GEOBATCH_WORKERS='0' must be at least 1"),
        ({"GEOBATCH_RETENTION_DAYS": "nan"}, "must be a finite number"),
        ({"GEOBATCH_KEY_RATE": "-1"}, "must be at least 0"),
        ({"GEOBATCH_OPEN_ACCESS": "maybe"}, "must be true or false"),
        ({"GEOBATCH_PUBLIC_URL": "ftp://x"}, "must be an http:// or https:// URL"),
        ({"GEOBATCH_MAX_ENTITIES": "99999999999999999999999"}, "must be at most"),
    ],
)
def test_bad_environment_values_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(env)


def test_bad_file_values_and_keys(tmp_path: Path) -> None:
    file = tmp_path / "g.toml"
    file.write_text("wokers = 3\n")
    with pytest.raises(ConfigError, match="unknown setting 'wokers'; did you mean 'workers'"):
        load({}, file)
    file.write_text('workers = "x"\n')
    with pytest.raises(ConfigError, match=r"g.toml: workers = 'x' must be a whole number"):
        load({}, file)
    file.write_text("workers = \n")
    with pytest.raises(ConfigError, match="cannot be read"):
        load({}, file)
    with pytest.raises(ConfigError, match="does not exist"):
        load({}, tmp_path / "missing.toml")


def test_every_setting_has_an_option() -> None:
    targets = {option.target.split(".")[0] for option in config.OPTIONS}
    internal = {"list_days"}  # not meant to be tuned
    assert set(config.setting_names()) - targets == internal
    assert len({o.key for o in config.OPTIONS}) == len(config.OPTIONS)


def test_cli_rejects_a_bad_variable_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GEOBATCH_WORKERS", "abc")
    assert run(["info"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "geobatch: error: bad setting: GEOBATCH_WORKERS='abc' must be a whole number (at least 1)"
    ]


def test_cli_config_prints_values_and_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith("GEOBATCH_"):
            monkeypatch.delenv(name)
    file = tmp_path / "g.toml"
    file.write_text("workers = 3\nopen_access = true\n")
    monkeypatch.setenv("GEOBATCH_KEY_RATE", "7")
    assert run(["--config", str(file), "--index", str(tmp_path / "i"), "config"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"# configuration file: {file}"
    assert any(line.startswith("workers ") and line.endswith(f"= 3  # {file}") for line in lines)
    assert any(line.startswith("key_rate") and "= 7.0" in line for line in lines)
    assert any(line.startswith("open_access") and "= true" in line for line in lines)
    assert any(line.startswith("index") and line.endswith("# --index") for line in lines)
    assert Settings.from_env({"GEOBATCH_CONFIG": str(file)}).workers == 3


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", False), ("off", False), ("No", False), ("1", True), ("yes", True)],
)
def test_excel_safe_switch(value: str, expected: bool) -> None:
    assert Settings.from_env({"GEOBATCH_EXCEL_SAFE": value}).excel_safe is expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GEOBATCH_EXCEL_SAFE", "sometimes"),
        ("GEOBATCH_WORKERS", "0"),
        ("GEOBATCH_WORKERS", "1e3"),
        ("GEOBATCH_WORKERS", str(MAX_WORKERS + 1)),
        ("GEOBATCH_MAX_UPLOAD_MB", "99999999999999999999"),
        ("GEOBATCH_MAX_ENTITIES", "-1"),
        ("GEOBATCH_CHUNK_SIZE", "0"),
        ("GEOBATCH_RETENTION_DAYS", "0"),
        ("GEOBATCH_RETENTION_DAYS", "nan"),
        ("GEOBATCH_SWEEP_SECONDS", "-inf"),
        ("GEOBATCH_DATA_LOCATION_SECONDS", "soon"),
        ("GEOBATCH_DECODERS", "0"),
        ("GEOBATCH_DECODE_SECONDS", "-5"),
    ],
)
def test_values_out_of_range_are_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(ValueError) as caught:
        Settings.from_env({name: value})
    assert name in str(caught.value)
