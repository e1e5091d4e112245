"""Settings: defaults, ``rota.toml``, ``ROTA_*`` environment variables and explicit overrides."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rota.model.errors import InvalidInputError
from rota.settings import Settings, load_settings

KEEP = {"ROTA_TEST_POSTGRES_URL"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ``ROTA_*`` variable of the outer environment may leak into a test."""
    for name in list(os.environ):
        if name.upper().startswith("ROTA_") and name not in KEEP:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write_config(folder: Path, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rota.toml").write_text(text, encoding="utf-8")


def invalid(call: object, field: str, *reason_parts: str) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as info:
        call()  # type: ignore[operator]
    assert info.value.field == field, (info.value.field, info.value.reason)
    for part in reason_parts:
        assert part in info.value.reason, (part, info.value.reason)
    return info.value


def test_it_has_defaults(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert settings.project == tmp_path.resolve()
    assert settings.database_url == ""
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve()}/.rota/rota.db"
    assert settings.heartbeat_seconds == 10.0
    assert settings.lease_seconds == 30.0
    assert settings.reaper_seconds == settings.heartbeat_seconds
    assert settings.worker_concurrency == 4
    assert settings.sqlite_synchronous == "FULL"
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)


def test_it_uses_an_explicit_database_url(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, database_url="sqlite:////elsewhere/x.db")
    assert settings.resolved_database_url == "sqlite:////elsewhere/x.db"


def test_it_defaults_the_project_to_the_current_folder(tmp_path: Path) -> None:
    assert load_settings().project == tmp_path.resolve()


def test_it_takes_the_project_from_rota_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    write_config(other, "[rota]\nport = 9000\n")
    monkeypatch.setenv("ROTA_PROJECT", str(other))
    settings = load_settings()
    assert (settings.project, settings.port) == (other.resolve(), 9000)


def test_it_accepts_fractional_seconds_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROTA_LEASE_SECONDS", "1.5")
    monkeypatch.setenv("ROTA_HEARTBEAT_SECONDS", "0.5")
    settings = load_settings(tmp_path)
    assert (settings.lease_seconds, settings.heartbeat_seconds) == (1.5, 0.5)


def test_it_rejects_a_lease_of_half_a_second_since_the_heartbeat_cannot_be_shorter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROTA_LEASE_SECONDS", "0.5")
    monkeypatch.setenv("ROTA_HEARTBEAT_SECONDS", "0.25")
    invalid(lambda: load_settings(tmp_path), "heartbeat_seconds", "0.5")


@pytest.mark.parametrize(("lease", "heartbeat"), [("10", "10"), ("5", "10")])
def test_it_rejects_a_lease_not_longer_than_the_heartbeat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lease: str, heartbeat: str
) -> None:
    monkeypatch.setenv("ROTA_LEASE_SECONDS", lease)
    monkeypatch.setenv("ROTA_HEARTBEAT_SECONDS", heartbeat)
    with pytest.raises(InvalidInputError) as info:
        load_settings(tmp_path)
    assert info.value.field == "lease_seconds"
    assert "must be longer than heartbeat_seconds" in info.value.reason


def test_it_rejects_a_lease_not_longer_than_the_heartbeat_given_as_overrides(
    tmp_path: Path,
) -> None:
    with pytest.raises(InvalidInputError, match="lease_seconds: must be longer"):
        load_settings(tmp_path, lease_seconds=5, heartbeat_seconds=5)


def test_it_rejects_a_heartbeat_below_half_a_second_naming_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROTA_HEARTBEAT_SECONDS", "0.1")
    invalid(lambda: load_settings(tmp_path), "heartbeat_seconds", "greater than or equal to 0.5")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("worker_concurrency", 0),
        ("worker_concurrency", 257),
        ("port", 70000),
        ("poll_seconds", 0),
        ("cancel_grace_seconds", -1),
        ("sqlite_synchronous", "OFF"),
    ],
)
def test_it_rejects_out_of_range_values_naming_the_field(
    tmp_path: Path, field: str, value: object
) -> None:
    invalid(lambda: load_settings(tmp_path, **{field: value}), field)


def test_it_rejects_text_where_a_number_is_expected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROTA_WORKER_CONCURRENCY", "many")
    invalid(lambda: load_settings(tmp_path), "worker_concurrency")


def test_it_uses_values_from_rota_toml(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        """
[rota]
heartbeat_seconds = 2.5
lease_seconds = 12
worker_concurrency = 8
database_url = "sqlite:////data/rota.db"
port = 9090
""",
    )
    settings = load_settings(tmp_path)
    assert settings.heartbeat_seconds == 2.5
    assert settings.lease_seconds == 12.0
    assert settings.worker_concurrency == 8
    assert settings.resolved_database_url == "sqlite:////data/rota.db"
    assert settings.port == 9090


def test_it_ignores_other_tables_of_rota_toml(tmp_path: Path) -> None:
    write_config(tmp_path, "[tool.other]\nport = 1\n")
    assert load_settings(tmp_path).port == 8080


def test_it_lets_the_environment_beat_rota_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(tmp_path, "[rota]\nworker_concurrency = 8\nport = 9090\n")
    monkeypatch.setenv("ROTA_WORKER_CONCURRENCY", "2")
    settings = load_settings(tmp_path)
    assert settings.worker_concurrency == 2
    assert settings.port == 9090


def test_it_lets_explicit_overrides_beat_the_environment_and_rota_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(tmp_path, "[rota]\nworker_concurrency = 8\nport = 9090\n")
    monkeypatch.setenv("ROTA_WORKER_CONCURRENCY", "2")
    monkeypatch.setenv("ROTA_PORT", "9191")
    settings = load_settings(tmp_path, worker_concurrency=16, port=None)
    assert settings.worker_concurrency == 16
    assert settings.port == 9191  # a None override means "not given"


def test_it_rejects_invalid_toml_naming_rota_toml(tmp_path: Path) -> None:
    write_config(tmp_path, "[rota\nport = \n")
    invalid(lambda: load_settings(tmp_path), "rota.toml", "not valid TOML")


def test_it_rejects_a_rota_key_that_is_not_a_table(tmp_path: Path) -> None:
    write_config(tmp_path, 'rota = "examples"\n')
    invalid(lambda: load_settings(tmp_path), "rota.toml", "must be a table")


def test_it_rejects_an_unknown_setting_in_rota_toml(tmp_path: Path) -> None:
    write_config(tmp_path, "[rota]\nheartbeat = 5\n")
    invalid(lambda: load_settings(tmp_path), "heartbeat", "Extra inputs are not permitted")


def test_it_follows_a_project_redirect_in_rota_toml(tmp_path: Path) -> None:
    write_config(tmp_path, '[rota]\nproject = "sub"\n')
    write_config(tmp_path / "sub", "[rota]\nport = 9000\nheartbeat_seconds = 2\n")
    settings = load_settings(tmp_path)
    assert settings.project == (tmp_path / "sub").resolve()
    assert (settings.port, settings.heartbeat_seconds) == (9000, 2.0)
    assert (
        settings.resolved_database_url == f"sqlite:///{(tmp_path / 'sub').resolve()}/.rota/rota.db"
    )


def test_it_follows_a_redirect_to_a_folder_without_rota_toml(tmp_path: Path) -> None:
    write_config(tmp_path, '[rota]\nproject = "sub"\n')
    (tmp_path / "sub").mkdir()
    settings = load_settings(tmp_path)
    assert settings.project == (tmp_path / "sub").resolve()
    assert settings.port == 8080


def test_it_follows_a_redirect_only_once(tmp_path: Path) -> None:
    write_config(tmp_path, '[rota]\nproject = "sub"\n')
    write_config(tmp_path / "sub", '[rota]\nproject = "deeper"\nport = 9000\n')
    settings = load_settings(tmp_path)
    assert (settings.project, settings.port) == ((tmp_path / "sub").resolve(), 9000)


def test_it_reports_invalid_toml_in_the_redirected_folder(tmp_path: Path) -> None:
    write_config(tmp_path, '[rota]\nproject = "sub"\n')
    write_config(tmp_path / "sub", "[rota\n")
    invalid(lambda: load_settings(tmp_path), "rota.toml", "not valid TOML")


def test_it_ignores_rota_variables_unknown_to_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROTA_TEST_POSTGRES_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("ROTA_SOMETHING_ELSE", "1")
    assert load_settings(tmp_path).port == 8080


def test_it_is_frozen(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert isinstance(settings, Settings)
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1  # type: ignore[misc]
