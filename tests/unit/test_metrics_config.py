"""Settings of /metrics (token, allow-list, directory) and the database URL as a secret file."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.config import ConfigError, MetricsSettings, Settings

TOKEN = "metrics-token-0123456789"


def test_defaults_allow_loopback_only() -> None:
    settings = Settings.from_env({})
    assert settings.metrics == MetricsSettings(token="", allow=("127.0.0.0/8", "::1/128"))
    assert settings.metrics.dir == "var/metrics"


def test_token_from_a_file_is_a_secret(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    settings = Settings.from_env({"CALLGATE_METRICS_TOKEN_FILE": str(path)})
    assert settings.metrics.token == TOKEN
    assert TOKEN in settings.secret_values()
    assert TOKEN not in repr(settings)


def test_a_short_token_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_env({"CALLGATE_METRICS_TOKEN": "short"})
    assert str(error.value).startswith("CALLGATE_METRICS_TOKEN:")
    assert "short" not in str(error.value)


def test_allow_list_of_addresses_and_networks() -> None:
    env = {"CALLGATE_METRICS_ALLOW": "10.0.0.0/8, 192.0.2.7, fd00::/8"}
    assert Settings.from_env(env).metrics.allow == ("10.0.0.0/8", "192.0.2.7/32", "fd00::/8")
    assert Settings.from_env({"CALLGATE_METRICS_ALLOW": "none"}).metrics.allow == ()
    with pytest.raises(ConfigError, match=r"^CALLGATE_METRICS_ALLOW:"):
        Settings.from_env({"CALLGATE_METRICS_ALLOW": "10.0.0.0/8, intranet"})


def test_database_url_from_a_file_and_its_password_redacted(tmp_path: Path) -> None:
    path = tmp_path / "database_url"
    path.write_text("postgresql+psycopg://callgate:s3cr3t-pw@db:5432/callgate\n")
    settings = Settings.from_env({"CALLGATE_DATABASE_URL_FILE": str(path)})
    assert settings.database_url == "postgresql+psycopg://callgate:s3cr3t-pw@db:5432/callgate"
    assert "s3cr3t-pw" in settings.secret_values()
    assert Settings.from_env({}).database_url == "sqlite:///var/callgate.db"
