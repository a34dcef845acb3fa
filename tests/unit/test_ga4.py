"""GA4 Measurement Protocol: the exact request a loopback /mp/collect receives, and when none."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from service.attribution import collect, ga_session_cookie, parse_ga_session
from service.config import EventSettings, Settings
from service.events.ga4 import connected_event, lead_event, limit_params, send_ga4
from tests.fakes.provider import FakeProvider
from tests.servers import free_port

CREATED = datetime(2026, 11, 28, 9, 30, 15, 250000, tzinfo=UTC)
LEAD = {
    "id": "lead-abc",
    "phone": "+380671112233",
    "name": "Olena",
    "client_id": "1234567890.1700000000",
    "ga_session_id": "1764322215",
    "page_url": "https://shop.example.com/contacts",
    "created_at": CREATED,
    "consent_at": None,
}
API_SECRET = "ga4-api-secret-0123"


def settings_for(endpoint: str, **overrides: object) -> Settings:
    events = EventSettings(
        ga4_measurement_id="G-ABC123", ga4_api_secret=API_SECRET, ga4_endpoint=endpoint
    )
    return Settings().model_copy(update={"events": events, **overrides})


def test_generate_lead_has_exactly_the_documented_shape(receiver: FakeProvider) -> None:
    settings = settings_for(receiver.url)
    body = lead_event(settings, LEAD)
    assert body is not None

    result = send_ga4(settings, body)

    assert result.delivered
    [received] = receiver.wait_for(1)
    url = urlsplit(received.path)
    assert received.method == "POST" and url.path == "/mp/collect"
    assert parse_qs(url.query) == {"measurement_id": ["G-ABC123"], "api_secret": [API_SECRET]}
    assert received.headers["Content-Type"] == "application/json"
    assert received.json() == {
        "client_id": "1234567890.1700000000",
        "timestamp_micros": 1795858215250000,  # 2026-11-28T09:30:15.25Z
        "events": [
            {
                "name": "generate_lead",
                "params": {
                    "lead_source": "callback",
                    "session_id": "1764322215",
                    "engagement_time_msec": 1,
                    "page_location": "https://shop.example.com/contacts",
                },
            }
        ],
    }
    assert "+380671112233" not in received.body.decode()
    assert "Olena" not in received.body.decode()


def test_no_session_cookie_no_session_id() -> None:
    body = lead_event(settings_for("https://ga.example"), {**LEAD, "ga_session_id": None})
    assert body is not None
    assert "session_id" not in body["events"][0]["params"]


def test_no_client_id_no_event() -> None:
    assert lead_event(settings_for("https://ga.example"), {**LEAD, "client_id": None}) is None


def test_not_configured_no_event() -> None:
    assert lead_event(Settings(), LEAD) is None


def test_consent_is_respected() -> None:
    settings = settings_for("https://ga.example", require_consent=True)
    assert lead_event(settings, LEAD) is None
    assert lead_event(settings, {**LEAD, "consent_at": CREATED}) is not None


def test_names_and_values_are_cut_to_ga4_limits() -> None:
    limited = limit_params({"n" * 50: "v" * 150, "number": 7, "empty": None})
    assert limited == {"n" * 40: "v" * 100, "number": 7}
    body = lead_event(
        settings_for("https://ga.example"), {**LEAD, "page_url": "https://x/" + "p" * 200}
    )
    assert body is not None
    assert len(body["events"][0]["params"]["page_location"]) == 100


def test_call_connected_is_its_own_event(receiver: FakeProvider) -> None:
    settings = settings_for(receiver.url)
    at = datetime(2026, 11, 28, 9, 31, tzinfo=UTC)
    body = connected_event(settings, LEAD, at=at)
    assert body is not None
    assert send_ga4(settings, body).delivered
    [received] = receiver.wait_for(1)
    sent = received.json()
    assert sent["timestamp_micros"] == 1795858260000000
    assert sent["events"][0]["name"] == "callgate_call_connected"
    assert sent["events"][0]["params"]["session_id"] == "1764322215"


def test_a_collector_that_is_down_is_retried_and_the_secret_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = settings_for(f"http://127.0.0.1:{free_port()}")
    body = lead_event(settings, LEAD)
    assert body is not None
    with caplog.at_level(logging.DEBUG, logger="callgate"):
        result = send_ga4(settings, body)
    assert result.outcome == "retry"
    logged = "\n".join(r.getMessage() for r in caplog.records) + result.detail
    assert "generate_lead" in logged
    assert API_SECRET not in logged


@pytest.mark.parametrize(
    ("raw", "session_id"),
    [
        ("GS1.1.1764322215.3.1.1764322300.0.0.0", "1764322215"),
        ("GS2.1.s1764322215$o3$g1$t1764322300$j0$l0$h0", "1764322215"),
        ("GS2.1.s1764322215", "1764322215"),
        ("GS1.1.notanumber.3", None),
        ("GA1.1.1234567890.1700000000", None),
        ("", None),
        (None, None),
    ],
)
def test_session_id_from_the_ga4_cookie(raw: str | None, session_id: str | None) -> None:
    assert parse_ga_session(raw) == session_id


def test_the_session_cookie_is_named_after_the_stream_and_a_cookie_wins_over_the_copy() -> None:
    assert ga_session_cookie("G-ABC123") == "_ga_ABC123"
    assert ga_session_cookie("") is None
    attribution = collect(
        cookie_rngst2=None,
        cookie_ga=None,
        copy_rngst2=None,
        copy_ga=None,
        client_ip=None,
        user_agent=None,
        cookie_ga_session="GS1.1.1111111111.1.0.1111111111.0.0.0",
        copy_ga_session="GS1.1.2222222222.1.0.2222222222.0.0.0",
    )
    assert attribution.ga_session_id == "1111111111"
