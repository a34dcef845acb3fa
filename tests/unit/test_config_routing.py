"""The agent-status and call-routing variables: read, validated, secrets known to the logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.config import ConfigError, Settings

BASE = {"CALLGATE_RINGOSTAT_AUTH_KEY": "k" * 16, "CALLGATE_RINGOSTAT_PROJECT_ID": "39071"}
TOKEN = "route-token-0123456789abcdef"


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.redis_url == ""
    agents, route = settings.agents, settings.route
    assert (agents.logins, agents.require_online, agents.source) == ((), False, "sip")
    assert (agents.status_ttl, agents.status_max_age, agents.recheck_cap) == (5, 30, 30)
    assert (route.token, route.response, route.response_key) == ("", "json", "destination")
    assert (route.caller_param, route.fallback, route.sticky_window) == ("caller", "", 86400)


def test_everything_is_read() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "CALLGATE_AGENT_LOGINS": "supportrngst_manager1, supportrngst_manager2",
            "CALLGATE_REQUIRE_AGENT_ONLINE": "true",
            "CALLGATE_SIPSTATUS_SOURCE": "both",
            "CALLGATE_RINGOSTAT_SMART_PHONE_TOKEN": "sp-token-1234",
            "CALLGATE_SIPSTATUS_WITH_DND": "yes",
            "CALLGATE_SIPSTATUS_TTL": "3s",
            "CALLGATE_SIPSTATUS_MAX_AGE": "1m",
            "CALLGATE_AGENT_RECHECK_CAP": "2m",
            "CALLGATE_ROUTE_TOKEN": TOKEN,
            "CALLGATE_ROUTE_RESPONSE": "jsonrpc",
            "CALLGATE_ROUTE_RESPONSE_KEY": "number_01",
            "CALLGATE_ROUTE_CALLER_PARAM": "caller_id",
            "CALLGATE_ROUTE_FALLBACK": "+380 44 123 45 67",
            "CALLGATE_STICKY_WINDOW": "3d",
            "CALLGATE_REDIS_URL": "redis://cache:6379/2",
        }
    )
    agents, route = settings.agents, settings.route
    assert agents.logins == ("supportrngst_manager1", "supportrngst_manager2")
    assert agents.require_online and agents.with_dnd and agents.source == "both"
    assert (agents.status_ttl, agents.status_max_age, agents.recheck_cap) == (3, 60, 120)
    assert (route.response, route.response_key, route.caller_param) == (
        "jsonrpc",
        "number_01",
        "caller_id",
    )
    assert route.fallback == "380441234567" and route.sticky_window == 3 * 86400
    assert settings.redis_url == "redis://cache:6379/2"
    assert TOKEN in settings.secret_values() and "sp-token-1234" in settings.secret_values()
    assert TOKEN not in repr(settings) and "sp-token-1234" not in repr(settings)


def test_a_redis_rate_limit_storage_is_shared_by_default() -> None:
    url = "redis://limits:6379/0"
    assert Settings.from_env({"CALLGATE_RATELIMIT_STORAGE_URL": url}).redis_url == url
    memcached = {"CALLGATE_RATELIMIT_STORAGE_URL": "memcached://m:11211"}
    assert Settings.from_env(memcached).redis_url == ""


def test_the_route_token_may_come_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    assert Settings.from_env({"CALLGATE_ROUTE_TOKEN_FILE": str(path)}).route.token == TOKEN


@pytest.mark.parametrize(
    ("environ", "variable", "words"),
    [
        ({"CALLGATE_REQUIRE_AGENT_ONLINE": "sometimes"}, "CALLGATE_REQUIRE_AGENT_ONLINE", "true"),
        ({"CALLGATE_REQUIRE_AGENT_ONLINE": "1"}, "CALLGATE_RINGOSTAT_AUTH_KEY", "required"),
        ({"CALLGATE_AGENT_LOGINS": "ok, not a login!"}, "CALLGATE_AGENT_LOGINS", "SIP login"),
        ({"CALLGATE_ROUTE_FALLBACK": "+38 (044)"}, "CALLGATE_ROUTE_FALLBACK", "international"),
        ({"CALLGATE_ROUTE_FALLBACK": "a,b"}, "CALLGATE_ROUTE_FALLBACK", "one"),
        ({"CALLGATE_ROUTE_RESPONSE": "xml"}, "CALLGATE_ROUTE_RESPONSE", "not one of"),
        ({"CALLGATE_ROUTE_RESPONSE_KEY": "a b"}, "CALLGATE_ROUTE_RESPONSE_KEY", "JSON key"),
        ({"CALLGATE_ROUTE_CALLER_PARAM": "a=b"}, "CALLGATE_ROUTE_CALLER_PARAM", "parameter"),
        ({"CALLGATE_ROUTE_TOKEN": "short"}, "CALLGATE_ROUTE_TOKEN", "at least 16"),
        ({"CALLGATE_ROUTE_TOKEN": "x" * 20 + "/?"}, "CALLGATE_ROUTE_TOKEN", "at least 16"),
        ({"CALLGATE_STICKY_WINDOW": "forever"}, "CALLGATE_STICKY_WINDOW", "duration"),
        ({"CALLGATE_SIPSTATUS_SOURCE": "phone"}, "CALLGATE_SIPSTATUS_SOURCE", "not one of"),
        (
            {**BASE, "CALLGATE_SIPSTATUS_SOURCE": "smart-phone"},
            "CALLGATE_RINGOSTAT_SMART_PHONE_TOKEN",
            "required",
        ),
        (
            {
                "CALLGATE_SIPSTATUS_SOURCE": "smart-phone",
                "CALLGATE_RINGOSTAT_SMART_PHONE_TOKEN": "t" * 8,
            },
            "CALLGATE_RINGOSTAT_PROJECT_ID",
            "required",
        ),
        (
            {"CALLGATE_SIPSTATUS_TTL": "10s", "CALLGATE_SIPSTATUS_MAX_AGE": "5s"},
            "CALLGATE_SIPSTATUS_MAX_AGE",
            "shorter",
        ),
        ({"CALLGATE_REDIS_URL": "memory://"}, "CALLGATE_REDIS_URL", "redis://"),
    ],
)
def test_wrong_values_name_the_variable(environ: dict[str, str], variable: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(environ)
    assert caught.value.variable == variable
    assert str(caught.value).startswith(variable + ":")
    assert words in str(caught.value)
    token = environ.get("CALLGATE_ROUTE_TOKEN")
    if token:  # a secret is never echoed, even a wrong one
        assert token not in str(caught.value)
