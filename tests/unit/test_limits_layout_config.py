"""Start-up refuses a layout whose limits would not hold: in-memory limits in several processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from service.config import ConfigError, Settings


def test_the_embedded_default_runs_one_process() -> None:
    settings = Settings.from_env({})
    assert settings.ratelimit_storage_url == "memory://"
    assert settings.workers == 1


def test_a_shared_storage_runs_two_processes_by_default() -> None:
    url = "redis://127.0.0.1:6379/0"
    assert Settings.from_env({"CALLGATE_RATELIMIT_STORAGE_URL": url}).workers == 2


def test_redis_for_the_shared_caches_holds_the_limits_too() -> None:
    url = "redis://127.0.0.1:6379/1"
    settings = Settings.from_env({"CALLGATE_REDIS_URL": url, "CALLGATE_WORKERS": "3"})
    assert settings.ratelimit_storage_url == url
    assert settings.workers == 3


@pytest.mark.parametrize("explicit", [{}, {"CALLGATE_RATELIMIT_STORAGE_URL": "memory://"}])
def test_in_memory_limits_with_several_workers_are_refused(explicit: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"CALLGATE_WORKERS": "2", **explicit})
    assert raised.value.variable == "CALLGATE_WORKERS"
    assert "CALLGATE_RATELIMIT_STORAGE_URL=memory://" in str(raised.value)


def test_serve_refuses_to_start_naming_both_settings() -> None:
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [str(Path(sys.executable).parent / "callgate"), "serve"],
        env={"CALLGATE_WORKERS": "2", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=root,
    )
    assert result.returncode == 2
    assert "CALLGATE_WORKERS" in result.stderr
    assert "CALLGATE_RATELIMIT_STORAGE_URL" in result.stderr
