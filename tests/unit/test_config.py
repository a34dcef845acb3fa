from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from service.config import ConfigError, Settings

RINGOSTAT = {
    "CALLGATE_PROVIDER": "ringostat",
    "CALLGATE_RINGOSTAT_AUTH_KEY": "k" * 16,
    "CALLGATE_RINGOSTAT_PROJECT_ID": "11111",
    "CALLGATE_RINGOSTAT_CALLEE": "42",
    "CALLGATE_SECRET_KEY": "s" * 32,
}


def test_embedded_defaults_need_no_variables() -> None:
    settings = Settings.from_env({})
    assert settings.provider == "dry-run"
    assert settings.database_url == "sqlite:///var/callgate.db"
    assert settings.ratelimit_storage_url == "memory://"
    assert settings.allowed_countries == ("UA",)
    assert settings.dedupe_window == 600
    assert settings.secret_key  # generated for dry-run


def test_ringostat_settings_are_read() -> None:
    settings = Settings.from_env(
        {
            **RINGOSTAT,
            "CALLGATE_RINGOSTAT_MANAGER_DST": "1",
            "CALLGATE_RINGOSTAT_API_URL": "http://127.0.0.1:9/",
        }
    )
    assert settings.ringostat.manager_dst == 1
    assert settings.ringostat.api_url == "http://127.0.0.1:9"
    assert settings.ringostat.callee_type == "scheme"


@pytest.mark.parametrize(
    ("environ", "variable", "words"),
    [
        ({"CALLGATE_PROVIDER": "ringostatt"}, "CALLGATE_PROVIDER", "not one of"),
        ({"CALLGATE_RINGOSTAT_MANAGER_DST": "2"}, "CALLGATE_RINGOSTAT_MANAGER_DST", "'2'"),
        (
            {**RINGOSTAT, "CALLGATE_RINGOSTAT_AUTH_KEY": ""},
            "CALLGATE_RINGOSTAT_AUTH_KEY",
            "required",
        ),
        (
            {**RINGOSTAT, "CALLGATE_RINGOSTAT_PROJECT_ID": ""},
            "CALLGATE_RINGOSTAT_PROJECT_ID",
            "required",
        ),
        ({**RINGOSTAT, "CALLGATE_SECRET_KEY": ""}, "CALLGATE_SECRET_KEY", "required"),
        ({"CALLGATE_LIMIT_PER_IP": "five per minute"}, "CALLGATE_LIMIT_PER_IP", "rate limit"),
        ({"CALLGATE_DEDUPE_WINDOW": "ten minutes"}, "CALLGATE_DEDUPE_WINDOW", "duration"),
        ({"CALLGATE_ALLOWED_COUNTRIES": "UA,XX"}, "CALLGATE_ALLOWED_COUNTRIES", "'XX'"),
        ({"CALLGATE_ALLOWED_ORIGINS": "example.com"}, "CALLGATE_ALLOWED_ORIGINS", "origin"),
        (
            {"CALLGATE_BLOCKED_NUMBER_TYPES": "premium"},
            "CALLGATE_BLOCKED_NUMBER_TYPES",
            "'premium'",
        ),
        ({"CALLGATE_TRUSTED_PROXIES": "-1"}, "CALLGATE_TRUSTED_PROXIES", "outside"),
        ({"CALLGATE_RINGOSTAT_API_URL": "ftp://x"}, "CALLGATE_RINGOSTAT_API_URL", "URL"),
        ({"CALLGATE_DISPATCHER": "cron"}, "CALLGATE_DISPATCHER", "not one of"),
    ],
)
def test_a_wrong_value_names_the_variable(
    environ: dict[str, str], variable: str, words: str
) -> None:
    assert_refused(environ, variable, words)


def assert_refused(environ: dict[str, str], variable: str, words: str) -> None:
    """Start-up refuses ``environ`` with one message that begins with ``variable``."""
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(environ)
    assert caught.value.variable == variable
    assert str(caught.value).startswith(variable + ": ")
    assert words in str(caught.value)


def test_secret_from_file(tmp_path: Path) -> None:
    path = tmp_path / "auth_key"
    path.write_text("from-a-file\n")
    environ = {
        **RINGOSTAT,
        "CALLGATE_RINGOSTAT_AUTH_KEY": "",
        "CALLGATE_RINGOSTAT_AUTH_KEY_FILE": str(path),
    }
    assert Settings.from_env(environ).ringostat.auth_key == "from-a-file"


def test_secret_file_that_cannot_be_read(tmp_path: Path) -> None:
    environ = {"CALLGATE_SECRET_KEY_FILE": str(tmp_path / "missing")}
    with pytest.raises(ConfigError, match=r"^CALLGATE_SECRET_KEY_FILE: cannot read"):
        Settings.from_env(environ)


def test_secret_and_its_file_together_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("x")
    with pytest.raises(ConfigError, match="not both"):
        Settings.from_env({"CALLGATE_SECRET_KEY": "y", "CALLGATE_SECRET_KEY_FILE": str(path)})


def test_secrets_stay_out_of_repr() -> None:
    settings = Settings.from_env(RINGOSTAT)
    assert "k" * 16 not in repr(settings)
    assert "s" * 32 not in repr(settings)


@pytest.mark.parametrize(
    "command", [["callgate", "serve"], ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]]
)
def test_start_up_stops_with_one_line(command: list[str]) -> None:
    executable = str(Path(sys.executable).parent / command[0])
    result = subprocess.run(
        [executable, *command[1:]],
        env={"CALLGATE_PROVIDER": "ringostatt", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "callgate: configuration error: CALLGATE_PROVIDER: 'ringostatt' is not one of "
        "dry-run, ringostat, ringostat-simple, ringcentral, pbx"
    ]


def test_log_format_is_text_unless_json_is_asked_for() -> None:
    assert Settings.from_env({}).log_format == "text"
    assert Settings.from_env({"CALLGATE_LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ConfigError) as error:
        Settings.from_env({"CALLGATE_LOG_FORMAT": "xml"})
    assert str(error.value).startswith("CALLGATE_LOG_FORMAT: 'xml' is not one of text, json")
