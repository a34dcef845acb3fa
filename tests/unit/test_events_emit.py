"""Which tasks a lead's move asks for: webhooks, alerts per channel, GA4 events."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from service.config import EventSettings, Settings
from service.events.alerts import Alert
from service.events.emit import (
    DELIVER_WEBHOOK,
    SEND_ALERT,
    SEND_GA4_EVENT,
    channel_url,
    events_for,
    outgoing,
    service_outgoing,
)
from service.events.webhooks import WebhookDelivery

SECRET = "whsec_" + base64.b64encode(b"e" * 32).decode()
CHANNELS = ("json://127.0.0.1:9/a-token-123", "tgram://123456:ABCdef/42")
SETTINGS = Settings(
    events=EventSettings(
        webhook_urls=("https://crm.example.com/hook",),
        webhook_secret=SECRET,
        notify_urls=CHANNELS,
        ga4_measurement_id="G-ABC123",
        ga4_api_secret="ga4-secret-value",
    )
)
AT = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
LEAD = {
    "id": "lead-1",
    "status": "queued",
    "phone": "+380671112233",
    "client_id": "1234567890.1700000000",
    "created_at": AT,
    "confirmed": True,
}


@pytest.mark.parametrize(
    ("status", "created", "confirmed", "events"),
    [
        ("queued", True, True, ("lead.accepted",)),
        ("scheduled", True, True, ("lead.accepted", "lead.scheduled")),
        ("held", True, True, ("lead.accepted", "lead.held")),
        ("queued", False, True, ()),
        ("waiting_for_agent", False, True, ()),
        ("placed", False, True, ("lead.placed",)),
        ("placed", False, False, ("lead.unconfirmed",)),
        ("connected", False, True, ("lead.connected",)),
        ("failed", False, True, ("lead.failed",)),
        ("cancelled", False, True, ()),
    ],
)
def test_each_status_emits_its_event(
    status: str, created: bool, confirmed: bool, events: tuple[str, ...]
) -> None:
    assert events_for({**LEAD, "confirmed": confirmed}, status, created=created) == events


def test_a_new_lead_asks_for_a_webhook_and_a_ga4_event_but_no_alert() -> None:
    tasks = outgoing(SETTINGS, LEAD, "queued", created=True, at=AT)
    assert [t.kind for t in tasks] == [DELIVER_WEBHOOK, SEND_GA4_EVENT]
    delivery = WebhookDelivery.from_payload(tasks[0].payload)
    assert delivery.type == "lead.accepted"
    assert tasks[1].payload["body"]["events"][0]["name"] == "generate_lead"


def test_a_failure_alerts_every_channel_by_key_never_by_url() -> None:
    tasks = outgoing(SETTINGS, {**LEAD, "status": "failed"}, "failed", reason="busy", at=AT)
    alerts = [t for t in tasks if t.kind == SEND_ALERT]
    assert len(alerts) == 2
    assert [channel_url(SETTINGS, t.payload["channel"]) for t in alerts] == list(CHANNELS)
    alert = Alert.from_payload(alerts[0].payload["alert"])
    assert alert.kind == "failed" and alert.reason == "busy" and alert.phone == "+38067*****33"
    stored = json.dumps([t.payload for t in tasks])
    for secret in (*CHANNELS, "a-token-123", "ABCdef", SECRET, "ga4-secret-value"):
        assert secret not in stored


def test_connected_sends_the_ga4_follow_up() -> None:
    tasks = outgoing(SETTINGS, {**LEAD, "status": "connected"}, "connected", at=AT)
    [ga4] = [t for t in tasks if t.kind == SEND_GA4_EVENT]
    assert ga4.payload["body"]["events"][0]["name"] == "callgate_call_connected"


def test_nothing_configured_nothing_to_do() -> None:
    assert outgoing(Settings(), LEAD, "failed", created=True) == []
    assert service_outgoing(Settings(), "budget", "1000 calls") == []


def test_service_alerts_go_to_every_channel() -> None:
    tasks = service_outgoing(SETTINGS, "provider_fault", "Ringostat: HTTP 401")
    assert len(tasks) == 2 and tasks[0].payload["alert"]["kind"] == "provider_fault"
    assert channel_url(SETTINGS, "no-such-key") is None
