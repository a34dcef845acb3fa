"""Alerts: the text people read, grouping of bursts, and Apprise sending to a loopback channel."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from service.config import EventSettings, Settings
from service.events.alerts import (
    MAX_LISTED,
    Alert,
    alert_for,
    compose,
    may_send,
    next_send_at,
    service_alert,
    wanted,
)
from service.events.notify import channel_key, channel_label, notify
from tests.fakes.provider import FakeProvider
from tests.servers import free_port

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
LEAD = {
    "id": "lead-abc",
    "status": "failed",
    "phone": "+380671112233",
    "name": "Olena",
    "page_url": "https://shop.example.com/contacts",
    "last_error": "provider said: busy",
}


def test_an_alert_masks_the_number() -> None:
    alert = alert_for(LEAD, "failed", at=NOW)
    assert alert.phone == "+38067*****33"
    assert alert.reason == "provider said: busy"
    assert Alert.from_payload(alert.to_payload()) == alert


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", ("call failed", "Reason", "Page")),
        ("uk", ("дзвінок не вдався", "Причина", "Сторінка")),
        ("ru", ("звонок не удался", "Причина", "Страница")),
        ("pl", ("połączenie nieudane", "Powód", "Strona")),
    ],
)
def test_one_alert_in_each_language(lang: str, words: tuple[str, ...]) -> None:
    title, body = compose([alert_for(LEAD, "failed", at=NOW)], lang)
    assert words[0] in title
    for word in words[1:]:
        assert word in body
    assert "+38067*****33 · Olena" in body
    assert "failed" in body  # the status as the CLI shows it
    assert "https://shop.example.com/contacts" in body
    assert "callgate leads show lead-abc" in body
    assert "+380671112233" not in title + body


def test_twenty_failures_are_one_message_with_the_count() -> None:
    alerts = [
        alert_for({**LEAD, "id": f"lead-{n}", "phone": f"+3806711122{n:02d}"}, "failed", at=NOW)
        for n in range(20)
    ]
    title, body = compose(alerts, "en")
    assert "20" in title
    assert "call failed: 20" in body
    assert body.count("callgate leads show") == MAX_LISTED
    assert "…and 10 more" in body
    assert "+380671112200" not in body and "+38067*****00" in body


def test_a_mixed_burst_counts_each_kind() -> None:
    alerts = [alert_for(LEAD, "failed", at=NOW)] * 3 + [
        service_alert("budget", "1000 calls today", at=NOW)
    ]
    _, body = compose(alerts, "en")
    assert body.splitlines()[0] == "call failed: 3, daily call budget reached: 1"


def test_a_channel_sends_at_most_once_a_minute() -> None:
    assert may_send(None, NOW)
    assert next_send_at(None, NOW) == NOW
    last = NOW - timedelta(seconds=20)
    assert not may_send(last, NOW)
    assert next_send_at(last, NOW) == NOW + timedelta(seconds=40)
    assert may_send(NOW - timedelta(minutes=1), NOW)


def test_which_kinds_alert() -> None:
    settings = Settings(events=EventSettings(notify_urls=("json://127.0.0.1:9/x",)))
    assert wanted(settings, "failed") and wanted(settings, "budget")
    assert not wanted(settings, "placed")
    assert wanted(settings, "webhook_failed")  # a lost delivery always alerts
    assert not wanted(Settings(), "failed")  # no channel, nobody to tell


def test_apprise_delivers_to_a_loopback_json_channel(
    channel: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"json://127.0.0.1:{channel.port}/alerts/token-0123456789abcdef"
    title, body = compose([alert_for(LEAD, "failed", at=NOW)], "en")

    with (
        caplog.at_level(logging.DEBUG, logger="apprise"),
        caplog.at_level(logging.DEBUG, logger="callgate"),
    ):
        result = notify(url, title, body)

    assert result.delivered
    [received] = channel.wait_for(1)
    assert received.path == "/alerts/token-0123456789abcdef"
    message = received.json()
    assert message["title"] == "callgate: call failed"
    assert "+38067*****33" in message["message"]
    assert "+380671112233" not in received.body.decode()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert channel_key(url) in logged
    assert "token-0123456789abcdef" not in logged


def test_a_channel_that_is_down_is_retried(caplog: pytest.LogCaptureFixture) -> None:
    url = f"json://127.0.0.1:{free_port()}/alerts/token-0123456789abcdef"
    with (
        caplog.at_level(logging.DEBUG, logger="apprise"),
        caplog.at_level(logging.DEBUG, logger="callgate"),
    ):
        result = notify(url, "t", "b", attempt=2)
    assert result.outcome == "retry" and result.retry_in == 300
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "token-0123456789abcdef" not in logged


def test_a_channel_is_named_without_its_url() -> None:
    url = "tgram://123456:ABCdef/987654"
    assert channel_label(url) == "tgram"
    assert "ABCdef" not in channel_key(url)
    assert channel_key(url) == channel_key(url)


def test_a_burst_of_twenty_failures_reaches_a_channel_at_most_once_a_minute(
    channel: FakeProvider,
) -> None:
    """The channel's task as the queue runs it: due at next_send_at, sends all that is pending."""
    url = f"json://127.0.0.1:{channel.port}/alerts"
    pending: list[Alert] = []
    last_sent: datetime | None = None
    sent_at: list[datetime] = []
    # Twenty failures, one every three seconds, then quiet; the clock is the test's own.
    for second in range(0, 181):
        now = NOW + timedelta(seconds=second)
        if second < 60 and second % 3 == 0:
            lead = {**LEAD, "id": f"lead-{second}", "phone": f"+3806711122{second:02d}"}
            pending.append(alert_for(lead, "failed", at=now))
        if pending and may_send(last_sent, now):
            title, body = compose(pending, "en")
            assert notify(url, title, body).delivered
            pending, last_sent = [], now
            sent_at.append(now)

    messages = [r.json() for r in channel.wait_for(len(sent_at))]
    assert len(messages) == 2  # the first at once, the other nineteen a minute later
    assert all(b - a >= timedelta(minutes=1) for a, b in pairwise(sent_at))
    assert messages[0]["title"] == "callgate: call failed"
    assert messages[1]["title"] == "callgate: 19 alerts"
    assert "call failed: 19" in messages[1]["message"]
