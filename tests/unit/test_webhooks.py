"""Standard Webhooks deliveries to a real loopback receiver that verifies them with the package."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from service.config import EventSettings, Settings
from service.events.outbox import GIVE_UP_AFTER, MAX_TRIES, RETRY_SCHEDULE, retry_in
from service.events.payload import build_event
from service.events.webhooks import (
    WebhookDelivery,
    deliver_webhook,
    deliveries_for,
    failure_alert,
    ping_deliveries,
)
from tests.fakes.provider import FakeProvider, Received
from tests.servers import free_port

SECRET = "whsec_" + base64.b64encode(b"webhook-secret-bytes-0123456789ab").decode()
LEAD = {
    "id": "lead-abc",
    "status": "failed",
    "phone": "+380671112233",
    "name": "Olena",
    "page_url": "https://shop.example.com/contacts",
    "utm_source": "google",
    "gclid": "Cj0KCQ",
    "provider": "ringostat",
    "last_error": "busy",
    "attempt_count": 3,
    "created_at": datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
}


def settings_for(*urls: str, **overrides: object) -> Settings:
    events = EventSettings(webhook_urls=urls, webhook_secret=SECRET, read_timeout=2.0)
    return Settings(events=events.model_copy(update=overrides))


def verified(received: Received) -> object:
    """What the site owner's receiver does: refuse anything not signed with the secret."""
    return Webhook(SECRET).verify(received.body, received.headers)


def test_a_delivery_is_signed_and_verified_by_the_receiver(receiver: FakeProvider) -> None:
    settings = settings_for(f"{receiver.url}/hook")
    [delivery] = deliveries_for(settings, build_event("lead.failed", LEAD))

    result = deliver_webhook(settings, delivery)

    assert result.delivered and result.http_status == 204
    [received] = receiver.wait_for(1)
    assert received.path == "/hook"
    assert received.headers["webhook-id"] == delivery.webhook_id
    body = verified(received)
    assert isinstance(body, dict)
    assert body["type"] == "lead.failed"
    assert body["data"]["phone"] == "+380671112233"
    assert body["data"]["attribution"]["gclid"] == "Cj0KCQ"
    assert body["data"]["reason"] == "busy"
    assert body["data"]["created_at"] == "2026-11-28T09:00:00Z"


def test_a_forged_body_fails_verification(receiver: FakeProvider) -> None:
    settings = settings_for(f"{receiver.url}/hook")
    [delivery] = deliveries_for(settings, build_event("lead.placed", LEAD))
    deliver_webhook(settings, delivery)
    [received] = receiver.wait_for(1)
    forged = dataclasses.replace(received, body=received.body.replace(b"Olena", b"Mallory"))
    with pytest.raises(Exception, match="signature"):
        verified(forged)


def test_500s_are_retried_with_the_same_id_until_a_2xx(receiver: FakeProvider) -> None:
    receiver.set(statuses=[500, 500, 500, 200], body=lambda _: {})
    settings = settings_for(f"{receiver.url}/hook")
    [delivery] = deliveries_for(settings, build_event("lead.connected", LEAD))

    outcomes = [deliver_webhook(settings, delivery, attempt=n) for n in range(1, 5)]

    assert [r.outcome for r in outcomes] == ["retry", "retry", "retry", "delivered"]
    assert [r.retry_in for r in outcomes[:3]] == list(RETRY_SCHEDULE[:3])
    assert [r.http_status for r in outcomes] == [500, 500, 500, 200]
    received = receiver.wait_for(4)
    assert {r.headers["webhook-id"] for r in received} == {delivery.webhook_id}
    assert len({r.body for r in received}) == 1  # byte for byte the same message
    for each in received:
        verified(each)


def test_a_refused_connection_is_a_retry() -> None:
    settings = settings_for(f"http://127.0.0.1:{free_port()}/hook")
    [delivery] = deliveries_for(settings, build_event("lead.failed", LEAD))
    result = deliver_webhook(settings, delivery)
    assert result.outcome == "retry" and result.retry_in == 5
    assert "connection failed" in result.detail


def test_a_receiver_too_slow_to_answer_is_a_retry(receiver: FakeProvider) -> None:
    receiver.set(statuses=[200], delay=1.0, body=lambda _: {})
    settings = settings_for(f"{receiver.url}/hook", read_timeout=0.2)
    [delivery] = deliveries_for(settings, build_event("lead.failed", LEAD))
    result = deliver_webhook(settings, delivery)
    assert result.outcome == "retry" and "timeout" in result.detail


def test_a_redirect_is_not_followed_and_is_retried(receiver: FakeProvider) -> None:
    receiver.set(statuses=[302], headers={"Location": "http://127.0.0.1:9/"}, body=lambda _: {})
    settings = settings_for(f"{receiver.url}/hook")
    [delivery] = deliveries_for(settings, build_event("lead.failed", LEAD))
    assert deliver_webhook(settings, delivery).outcome == "retry"
    assert len(receiver.received) == 1


def test_the_last_try_fails_the_delivery_and_alerts(receiver: FakeProvider) -> None:
    receiver.set(statuses=[503], body=lambda _: {})
    settings = settings_for(f"{receiver.url}/hook")
    [delivery] = deliveries_for(settings, build_event("lead.failed", LEAD))
    result = deliver_webhook(settings, delivery, attempt=MAX_TRIES)
    assert result.outcome == "failed" and result.http_status == 503
    alert = failure_alert(delivery, result)
    assert alert.kind == "webhook_failed" and alert.lead_id == "lead-abc"
    assert alert.phone == "+38067*****33"
    assert alert.reason is not None and delivery.webhook_id in alert.reason
    assert "HTTP 503" in alert.reason and "/hook" not in alert.reason


def test_the_schedule_follows_the_specification_and_stops_within_24_hours() -> None:
    delays = [retry_in(n) for n in range(1, MAX_TRIES + 1)]
    assert delays[:6] == [5, 300, 1800, 7200, 18000, 36000]
    assert delays[-1] is None
    total = sum(d for d in delays if d is not None)
    assert total == GIVE_UP_AFTER
    # A queue that knows the real time since the first try: nothing past 24 hours.
    assert retry_in(2, elapsed=GIVE_UP_AFTER - 10) == 10
    assert retry_in(2, elapsed=GIVE_UP_AFTER) is None


def test_one_delivery_per_url_and_only_the_wanted_events(receiver: FakeProvider) -> None:
    settings = settings_for(
        f"{receiver.url}/a", f"{receiver.url}/b", webhook_events=("lead.failed",)
    )
    failed = deliveries_for(settings, build_event("lead.failed", LEAD))
    assert [d.url for d in failed] == [f"{receiver.url}/a", f"{receiver.url}/b"]
    assert len({d.webhook_id for d in failed}) == 2
    assert deliveries_for(settings, build_event("lead.placed", LEAD)) == []


def test_a_delivery_survives_the_task_payload_round_trip(receiver: FakeProvider) -> None:
    settings = settings_for(f"{receiver.url}/hook")
    [delivery] = deliveries_for(settings, build_event("lead.held", LEAD))
    stored = json.loads(json.dumps(delivery.to_payload()))
    assert WebhookDelivery.from_payload(stored) == delivery


def test_a_url_no_longer_configured_is_not_sent_to(receiver: FakeProvider) -> None:
    [delivery] = deliveries_for(settings_for(f"{receiver.url}/old"), build_event("lead.held", LEAD))
    result = deliver_webhook(settings_for(f"{receiver.url}/new"), delivery)
    assert result.outcome == "failed"
    assert receiver.received == []


def test_ping_reaches_every_url_verified(receiver: FakeProvider) -> None:
    settings = settings_for(f"{receiver.url}/a", f"{receiver.url}/b")
    results = [deliver_webhook(settings, d) for d in ping_deliveries(settings)]
    assert all(r.delivered for r in results)
    bodies = [verified(r) for r in receiver.wait_for(2)]
    assert [b["type"] for b in bodies] == ["ping", "ping"]  # type: ignore[index]


def test_logs_name_the_delivery_never_the_body_or_secret(
    receiver: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.set(statuses=[500, 200], body=lambda _: {})
    settings = settings_for(f"{receiver.url}/hook")
    [delivery] = deliveries_for(settings, build_event("lead.failed", LEAD))
    with caplog.at_level(logging.DEBUG, logger="callgate"):
        deliver_webhook(settings, delivery, attempt=1)
        deliver_webhook(settings, delivery, attempt=2)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert delivery.webhook_id in text and "lead-abc" in text
    for private in ("+380671112233", "380671112233", "Olena", SECRET, SECRET[6:]):
        assert private not in text
