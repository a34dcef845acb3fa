"""CALLGATE_WEBHOOK_*, CALLGATE_NOTIFY_*, CALLGATE_GA4_*: read, validated, secrets kept."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from service.config import DEFAULT_NOTIFY_ON, WEBHOOK_EVENTS, ConfigError, Settings

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
APPRISE = "json://127.0.0.1:8999/hook-token-abcdef"


def test_nothing_configured_sends_nothing() -> None:
    events = Settings.from_env({}).events
    assert events.webhook_urls == () and events.notify_urls == ()
    assert not events.ga4_enabled
    assert events.webhook_events == WEBHOOK_EVENTS
    assert events.notify_on == DEFAULT_NOTIFY_ON
    assert events.notify_lang == "en"
    assert events.ga4_endpoint == "https://www.google-analytics.com"


def test_everything_is_read() -> None:
    events = Settings.from_env(
        {
            "CALLGATE_WEBHOOK_URL": "https://crm.example.com/hook, http://127.0.0.1:9000/in",
            "CALLGATE_WEBHOOK_SECRET": SECRET,
            "CALLGATE_WEBHOOK_EVENTS": "failed,lead.placed",
            "CALLGATE_NOTIFY_URLS": f"{APPRISE}, tgram://123456:ABCdef/987654",
            "CALLGATE_NOTIFY_ON": "failed,budget",
            "CALLGATE_NOTIFY_LANG": "uk",
            "CALLGATE_GA4_MEASUREMENT_ID": "g-abc123def4",
            "CALLGATE_GA4_API_SECRET": "ga4-api-secret-value",
            "CALLGATE_GA4_ENDPOINT": "http://127.0.0.1:9001/",
        }
    ).events
    assert events.webhook_urls == ("https://crm.example.com/hook", "http://127.0.0.1:9000/in")
    assert events.webhook_events == ("lead.failed", "lead.placed")
    assert events.notify_urls == (APPRISE, "tgram://123456:ABCdef/987654")
    assert events.notify_on == ("failed", "budget")
    assert events.notify_lang == "uk"
    assert events.ga4_measurement_id == "G-ABC123DEF4"
    assert events.ga4_endpoint == "http://127.0.0.1:9001"
    assert events.ga4_enabled


@pytest.mark.parametrize(
    ("environ", "variable", "words"),
    [
        (
            {
                "CALLGATE_WEBHOOK_URL": "http://crm.example.com/hook",
                "CALLGATE_WEBHOOK_SECRET": SECRET,
            },
            "CALLGATE_WEBHOOK_URL",
            "must be https",
        ),
        (
            {"CALLGATE_WEBHOOK_URL": "https://crm.example.com"},
            "CALLGATE_WEBHOOK_SECRET",
            "required",
        ),
        ({"CALLGATE_WEBHOOK_SECRET": "not-a-whsec"}, "CALLGATE_WEBHOOK_SECRET", "whsec_"),
        ({"CALLGATE_WEBHOOK_SECRET": "whsec_!!!"}, "CALLGATE_WEBHOOK_SECRET", "base64"),
        ({"CALLGATE_WEBHOOK_EVENTS": "lead.called"}, "CALLGATE_WEBHOOK_EVENTS", "not one of"),
        ({"CALLGATE_NOTIFY_ON": "failed,everything"}, "CALLGATE_NOTIFY_ON", "not one of"),
        ({"CALLGATE_NOTIFY_LANG": "de"}, "CALLGATE_NOTIFY_LANG", "not one of"),
        ({"CALLGATE_GA4_MEASUREMENT_ID": "UA-1234-1"}, "CALLGATE_GA4_MEASUREMENT_ID", "G-"),
        ({"CALLGATE_GA4_MEASUREMENT_ID": "G-ABC123"}, "CALLGATE_GA4_API_SECRET", "required"),
        ({"CALLGATE_GA4_API_SECRET": "s3cret-value"}, "CALLGATE_GA4_MEASUREMENT_ID", "required"),
        ({"CALLGATE_GA4_ENDPOINT": "http://ga.example.com"}, "CALLGATE_GA4_ENDPOINT", "https"),
        # A port no URL may have: refused at start, not by every delivery's traceback.
        (
            {
                "CALLGATE_WEBHOOK_URL": "https://crm.example.com:99999/x",
                "CALLGATE_WEBHOOK_SECRET": SECRET,
            },
            "CALLGATE_WEBHOOK_URL",
            "no valid port",
        ),
        ({"CALLGATE_GA4_ENDPOINT": "https://ga.example.com:abc"}, "CALLGATE_GA4_ENDPOINT", "port"),
    ],
)
def test_a_wrong_value_names_the_variable(
    environ: dict[str, str], variable: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(environ)
    assert caught.value.variable == variable
    assert words in str(caught.value)


def test_a_bad_apprise_url_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"CALLGATE_NOTIFY_URLS": f"{APPRISE} nosuchservice://token-xyz-123"})
    assert caught.value.variable == "CALLGATE_NOTIFY_URLS"
    assert "item 2" in str(caught.value)
    assert "token-xyz-123" not in str(caught.value)


def test_a_bad_secret_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"CALLGATE_WEBHOOK_SECRET": "whsec_c2hvcnQ="})  # 5 bytes
    assert "c2hvcnQ" not in str(caught.value)


def test_secrets_from_files_go_to_the_redaction_list(tmp_path: Path) -> None:
    (tmp_path / "whsec").write_text(SECRET + "\n")
    (tmp_path / "ga4").write_text("ga4-api-secret-value\n")
    settings = Settings.from_env(
        {
            "CALLGATE_WEBHOOK_URL": "https://crm.example.com/hook",
            "CALLGATE_WEBHOOK_SECRET_FILE": str(tmp_path / "whsec"),
            "CALLGATE_NOTIFY_URLS": APPRISE,
            "CALLGATE_GA4_MEASUREMENT_ID": "G-ABC123",
            "CALLGATE_GA4_API_SECRET_FILE": str(tmp_path / "ga4"),
        }
    )
    assert settings.events.webhook_secret == SECRET
    for secret in (SECRET, APPRISE, "ga4-api-secret-value"):
        assert secret in settings.secret_values()
        assert secret not in repr(settings)


def test_channels_from_a_file_one_a_line_and_no_alert_kinds(tmp_path: Path) -> None:
    (tmp_path / "channels").write_text(f"{APPRISE}\ntgram://123456:ABCdef/987654\n")
    events = Settings.from_env(
        {
            "CALLGATE_NOTIFY_URLS_FILE": str(tmp_path / "channels"),
            "CALLGATE_NOTIFY_ON": "none",
        }
    ).events
    assert events.notify_urls == (APPRISE, "tgram://123456:ABCdef/987654")
    assert events.notify_on == ()
