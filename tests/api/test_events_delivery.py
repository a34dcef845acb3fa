"""Events out, wired: a lead's moves reach real loopback receivers through the task queue."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import time_machine
from flask import Flask
from sqlalchemy import select
from standardwebhooks import Webhook

from service.config import EventSettings, HoursSettings, Settings
from service.database import migrate
from service.dispatch import Dispatcher
from service.events.hook import outbox_for
from service.events.outbox import RETRY_SCHEDULE
from service.hours_syntax import parse_week
from service.leads import Lead, LeadStore
from service.leads.model import FAILED, Task
from service.providers import build_provider
from service.tasks.queue import DELIVER_WEBHOOK, SEND_ALERT, SEND_GA4_EVENT
from tests.conftest import SettingsFactory, services
from tests.fakes.provider import FakeProvider
from tests.servers import wait_until

SECRET = "whsec_" + base64.b64encode(b"webhook-secret-bytes-0123456789ab").decode()
URL = "/api/v1/callbacks"
GA = "GA1.1.1234567890.1700000000"


def _hooks(url: str, **overrides: object) -> EventSettings:
    return EventSettings(webhook_urls=(url,), webhook_secret=SECRET, read_timeout=2.0, **overrides)  # type: ignore[arg-type]


def _submit(app: Flask, phone: str = "0671112233", **extra: object) -> str:
    response = app.test_client().post(URL, json={"phone": phone, **extra})
    assert response.status_code == 202, response.get_data(as_text=True)
    lead_id: str = response.get_json()["id"]
    return lead_id


def _drain(app: Flask) -> int:
    """Run every task due now, one at a time; how many ran."""
    ran = 0
    while services(app).dispatcher.run_once():
        ran += 1
    return ran


def _tasks(app: Flask, kind: str) -> list[Task]:
    store = services(app).store
    with store._read() as session:
        return list(session.scalars(select(Task).where(Task.kind == kind).order_by(Task.id)))


def test_a_posted_lead_reaches_the_receiver_accepted_then_placed_signed(
    make_app: Callable[..., Flask], receiver: FakeProvider
) -> None:
    app = make_app(events=_hooks(f"{receiver.url}/hook"))
    lead_id = _submit(app)

    _drain(app)

    received = receiver.wait_for(2)
    bodies = [Webhook(SECRET).verify(r.body, r.headers) for r in received]
    assert [b["type"] for b in bodies] == ["lead.accepted", "lead.placed"]  # type: ignore[index]
    assert {b["data"]["id"] for b in bodies} == {lead_id}  # type: ignore[index]
    assert bodies[1]["data"]["status"] == "placed"  # type: ignore[index]
    assert bodies[0]["data"]["phone"] == "+380671112233"  # type: ignore[index]
    assert len({r.headers["webhook-id"] for r in received}) == 2
    assert [t.state for t in _tasks(app, DELIVER_WEBHOOK)] == ["done", "done"]


def test_a_receiver_failing_three_times_gets_one_webhook_id_and_one_success(
    make_app: Callable[..., Flask], receiver: FakeProvider
) -> None:
    receiver.set(statuses=[500, 500, 500, 200], body=lambda _: {})
    with time_machine.travel(datetime.now(UTC), tick=True) as clock:
        app = make_app(events=_hooks(receiver.url, webhook_events=("lead.accepted",)))
        _submit(app)
        delays = []
        for _ in range(4):
            _drain(app)
            [task] = _tasks(app, DELIVER_WEBHOOK)
            if task.state != "pending":
                break
            delays.append(round((task.due_at - task.updated_at).total_seconds()))
            # The retry falls due: the clock moves, nobody sleeps.
            clock.shift(task.due_at - datetime.now(UTC) + timedelta(seconds=1))
        clock.shift(timedelta(days=2))
        assert _drain(app) == 0

    received = receiver.wait_for(4)
    assert len(received) == 4
    assert len({r.headers["webhook-id"] for r in received}) == 1
    assert delays == list(RETRY_SCHEDULE[:3])  # 5 s, 5 min, 30 min
    [task] = _tasks(app, DELIVER_WEBHOOK)
    assert task.state == "done" and task.attempts == 4
    assert receiver.accepted.total() == 1  # exactly one 2xx answer


def test_a_webhook_given_up_alerts_the_channel(
    make_app: Callable[..., Flask], receiver: FakeProvider
) -> None:
    channel = FakeProvider().start()
    try:
        channel.set(statuses=[200], body=lambda _: {})
        receiver.set(statuses=[503], body=lambda _: {})
        events = _hooks(
            receiver.url,
            webhook_events=("lead.accepted",),
            notify_urls=(f"json://127.0.0.1:{channel.port}/alerts",),
            notify_on=(),
        )
        with time_machine.travel(datetime.now(UTC), tick=True) as clock:
            app = make_app(events=events)
            _submit(app)
            for _ in range(len(RETRY_SCHEDULE) + 2):
                _drain(app)
                clock.shift(timedelta(hours=11))
            _drain(app)
        [task] = _tasks(app, DELIVER_WEBHOOK)
        assert task.state == "failed" and task.attempts == len(RETRY_SCHEDULE) + 1
        assert "HTTP 503" in (task.last_error or "")
        [message] = channel.wait_for(1)
        assert "webhook" in message.json()["title"].lower()
    finally:
        channel.stop()


def test_a_failed_lead_alerts_a_json_channel(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    channel = FakeProvider().start()
    try:
        channel.set(statuses=[200], body=lambda _: {})
        fake_provider.set(statuses=[400])
        url = f"json://127.0.0.1:{channel.port}/alerts/token-0123456789"
        app = make_app(
            provider="ringostat",
            ringostat={"api_url": fake_provider.url},
            events=EventSettings(notify_urls=(url,)),
        )
        lead_id = _submit(app)
        _drain(app)
        [message] = channel.wait_for(1)
        assert message.json()["title"] == "callgate: call failed"
        assert "+38067*****33" in message.json()["message"]
        assert f"callgate leads show {lead_id}" in message.json()["message"]
        assert [t.state for t in _tasks(app, SEND_ALERT)] == ["done"]
    finally:
        channel.stop()


def _count(message: dict[str, str]) -> int:
    found = re.search(r"(\d+) alerts", message["title"])
    return int(found.group(1)) if found else 1


def test_twenty_failures_with_two_workers_are_one_message_a_minute(
    make_settings: SettingsFactory,
) -> None:
    alert_burst(lambda **events: make_settings(**events))


def alert_burst(make: Callable[..., Settings]) -> None:
    """Twenty leads fail; two workers (four threads each) send their alerts to one channel:
    one message within the minute, the rest with their count the next minute."""
    channel = FakeProvider().start()
    try:
        channel.set(statuses=[200], body=lambda _: {})
        url = f"json://127.0.0.1:{channel.port}/alerts"
        settings = make(events=EventSettings(notify_urls=(url,)), dispatch_threads=4)
        with time_machine.travel(datetime.now(UTC), tick=True) as clock:
            stores = [LeadStore(settings.database_url, outbox=outbox_for(settings)) for _ in "ab"]
            migrate(stores[0])
            for n in range(20):
                lead, _ = stores[0].insert(Lead(phone=f"+3806711122{n:02d}", provider="dry-run"))
                assert stores[0].transition(lead.id, FAILED, values={"last_error": "busy"})
            workers = [Dispatcher(settings, store, build_provider(settings)) for store in stores]
            for worker in workers:
                worker.start()
            try:

                def alerts() -> list[Task]:
                    return [t for t in _all(stores[0]) if t.kind == SEND_ALERT]

                def settled() -> bool:
                    now = datetime.now(UTC)
                    return all(t.state == "done" or t.due_at > now for t in alerts())

                wait_until(settled, what="the alert tasks run or wait for the next minute")
                assert len(channel.received) == 1  # within the minute, one message only
                clock.shift(timedelta(seconds=61))
                wait_until(
                    lambda: all(t.state == "done" for t in alerts()), what="every alert sent"
                )
            finally:
                for worker in workers:
                    worker.stop(timeout=5)
                for store in stores:
                    store.close()
        messages = [r.json() for r in channel.received]
        assert 1 <= len(messages) <= 2
        assert sum(_count(m) for m in messages) == 20
        if len(messages) == 2:
            assert channel.received[1].at - channel.received[0].at >= 60
    finally:
        channel.stop()


def _all(store: LeadStore) -> list[Task]:
    with store._read() as session:
        return list(session.scalars(select(Task)))


def test_ga4_gets_generate_lead_with_the_exact_shape_and_nothing_without_a_client_id(
    make_app: Callable[..., Flask], receiver: FakeProvider
) -> None:
    events = EventSettings(
        ga4_measurement_id="G-ABC123", ga4_api_secret="ga4-secret-0123", ga4_endpoint=receiver.url
    )
    app = make_app(events=events)
    _submit(app, "0671112233")  # no _ga: no event
    lead_id = _submit(app, "0671112244", ga=GA, ga_session="GS1.1.1764322215.1.0.1764322215.0")
    _drain(app)

    [received] = receiver.wait_for(1)
    url = urlsplit(received.path)
    assert url.path == "/mp/collect"
    assert parse_qs(url.query) == {
        "measurement_id": ["G-ABC123"],
        "api_secret": ["ga4-secret-0123"],
    }
    lead = services(app).store.get(lead_id)
    assert lead is not None
    created = lead.created_at.replace(tzinfo=UTC)
    assert received.json() == {
        "client_id": "1234567890.1700000000",
        "timestamp_micros": int(created.timestamp()) * 1_000_000 + created.microsecond,
        "events": [
            {
                "name": "generate_lead",
                "params": {
                    "lead_source": "callback",
                    "session_id": "1764322215",
                    "engagement_time_msec": 1,
                },
            }
        ],
    }
    assert [t.lead_id for t in _tasks(app, SEND_GA4_EVENT)] == [lead_id]


def test_nothing_configured_enqueues_no_event_task(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    assert services(app).store.outbox is None
    _submit(app)
    _drain(app)
    kinds = {t.kind for t in _all(services(app).store)}
    assert kinds == {"place_call"}


def test_a_provider_fault_alerts_once_with_the_lead_it_failed(
    make_app: Callable[..., Flask], fake_provider: FakeProvider, channel: FakeProvider
) -> None:
    fake_provider.set(statuses=[403])
    app = make_app(
        provider="ringostat",
        ringostat={"api_url": fake_provider.url},
        events=EventSettings(notify_urls=(f"json://127.0.0.1:{channel.port}/alerts",)),
    )
    _submit(app)
    _drain(app)
    [message] = channel.wait_for(1)
    assert message.json()["title"] == "callgate: 2 alerts"
    text = message.json()["message"]
    assert "call failed: 1" in text
    assert "telephony provider refuses our settings: 1" in text
    assert "test-auth-key" not in text


def test_the_daily_budget_holds_a_lead_and_alerts(
    make_app: Callable[..., Flask], channel: FakeProvider
) -> None:
    app = make_app(
        daily_call_budget=1,
        events=EventSettings(notify_urls=(f"json://127.0.0.1:{channel.port}/alerts",)),
    )
    _submit(app, "0671112233")
    held = _submit(app, "0671112244")
    _submit(app, "0671112255")
    _drain(app)
    [message] = channel.wait_for(1)
    text = message.json()["message"]
    assert message.json()["title"] == "callgate: 3 alerts"
    assert "lead held (daily budget): 2" in text and "daily call budget reached: 1" in text
    assert f"callgate leads show {held}" in text


def test_a_booked_lead_says_in_its_webhooks_when_its_visitor_chose_to_be_called(
    make_app: Callable[..., Flask], receiver: FakeProvider
) -> None:
    """``call_at`` is what the visitor asked for, stored with the lead: its events carry it."""
    weekdays = HoursSettings(week=parse_week("Mon-Fri 09:00-18:00"))
    monday_9_10_kyiv = datetime(2026, 11, 30, 7, 10, tzinfo=UTC)
    with time_machine.travel(monday_9_10_kyiv, tick=True):
        app = make_app(events=_hooks(f"{receiver.url}/hook"), hours=weekdays)
        _submit(app, call_at="2026-11-30T15:00:00+02:00")
        _drain(app)
        received = receiver.wait_for(2)
        bodies = [Webhook(SECRET).verify(r.body, r.headers) for r in received]  # on its clock
    assert [b["type"] for b in bodies] == ["lead.accepted", "lead.scheduled"]  # type: ignore[index]
    for body in bodies:
        data = body["data"]  # type: ignore[index]
        assert data["call_at"] == data["scheduled_for"] == "2026-11-30T13:00:00Z"
