"""The store's outbox: which lead moves enqueue which event tasks, in the move's transaction."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from requests_mock import Mocker
from sqlalchemy import select, update

from service.config import EventSettings, Settings
from service.database import migrate
from service.events.hook import EventOutbox, outbox_for
from service.leads import Lead, LeadStore, retention
from service.leads.lifecycle import LeadStatus
from service.leads.model import Task
from service.tasks.queue import DELIVER_WEBHOOK, GAVE_UP, SEND_ALERT, SEND_GA4_EVENT, TASKS

SECRET = "whsec_" + base64.b64encode(b"o" * 32).decode()
EVENTS = EventSettings(
    webhook_urls=("https://crm.example.com/hook",),
    webhook_secret=SECRET,
    notify_urls=("json://127.0.0.1:9/alerts",),
    ga4_measurement_id="G-ABC123",
    ga4_api_secret="ga4-secret",
)
S = LeadStatus


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LeadStore]:
    url = f"sqlite:///{tmp_path}/callgate.db"
    found = LeadStore(url, outbox=outbox_for(Settings(database_url=url, events=EVENTS)))
    migrate(found)
    yield found
    found.close()


def _events(store: LeadStore) -> list[tuple[str, str]]:
    """(kind, what) of every event task: the webhook's type, the alert's kind, GA4's name."""
    with store._read() as session:
        tasks = session.scalars(select(Task).where(Task.kind != "place_call").order_by(Task.id))
        found = []
        for task in tasks:
            payload = task.payload or {}
            if task.kind == DELIVER_WEBHOOK:
                found.append((task.kind, payload["type"]))
            elif task.kind == SEND_ALERT:
                found.append((task.kind, payload["alert"]["kind"]))
            else:
                found.append((task.kind, payload["body"]["events"][0]["name"]))
        return found


def test_nothing_configured_no_outbox() -> None:
    assert outbox_for(Settings()) is None
    assert outbox_for(Settings(events=EventSettings(webhook_urls=("https://x.example/h",))))


def test_moves_that_emit_nothing_read_nothing() -> None:
    outbox = EventOutbox(Settings(events=EVENTS))
    for status in (S.QUEUED, S.DISPATCHING, S.WAITING_FOR_AGENT, S.CANCELLED):
        assert not outbox.emits(status, created=False)
    assert outbox.emits(S.QUEUED, created=True)  # lead.accepted
    ga4_only = EventOutbox(
        Settings(events=EventSettings(ga4_measurement_id="G-TEST1234", ga4_api_secret="s"))
    )
    assert not ga4_only.emits(S.PLACED, created=False)
    assert ga4_only.emits(S.CONNECTED, created=False)


def test_a_lead_accepted_placed_connected(store: LeadStore) -> None:
    lead, _ = store.insert(Lead(phone="+380671112233", provider="dry-run", client_id="1.2"))
    assert store.transition(lead.id, S.DISPATCHING)
    assert store.transition(lead.id, S.PLACED, values={"confirmed": True})
    assert store.transition(lead.id, S.CONNECTED)
    assert _events(store) == [
        (DELIVER_WEBHOOK, "lead.accepted"),
        (SEND_GA4_EVENT, "generate_lead"),
        (DELIVER_WEBHOOK, "lead.placed"),
        (DELIVER_WEBHOOK, "lead.connected"),
        (SEND_GA4_EVENT, "callgate_call_connected"),
    ]


def test_an_unconfirmed_placement_and_a_failure_alert(store: LeadStore) -> None:
    first, _ = store.insert(Lead(phone="+380671112233", provider="dry-run"))
    second, _ = store.insert(Lead(phone="+380671112244", provider="dry-run"))
    assert store.transition(first.id, S.DISPATCHING)
    assert store.transition(first.id, S.PLACED, values={"confirmed": False})
    assert store.transition(second.id, S.FAILED, values={"last_error": "busy"})
    assert _events(store) == [
        (DELIVER_WEBHOOK, "lead.accepted"),
        (DELIVER_WEBHOOK, "lead.accepted"),
        (DELIVER_WEBHOOK, "lead.unconfirmed"),
        (SEND_ALERT, "unconfirmed"),
        (DELIVER_WEBHOOK, "lead.failed"),
        (SEND_ALERT, "failed"),
    ]


def test_a_held_lead_and_the_budget_alert_once_a_day(store: LeadStore) -> None:
    for phone in ("+380671112233", "+380671112244"):
        store.insert(Lead(phone=phone, provider="dry-run", status=S.HELD))
    assert _events(store) == [
        (DELIVER_WEBHOOK, "lead.accepted"),
        (DELIVER_WEBHOOK, "lead.held"),
        (SEND_ALERT, "held"),
        (SEND_ALERT, "budget"),
        (DELIVER_WEBHOOK, "lead.accepted"),
        (DELIVER_WEBHOOK, "lead.held"),
        (SEND_ALERT, "held"),
    ]


def test_a_provider_fault_alerts_when_it_is_new(store: LeadStore) -> None:
    store.state.set_provider_fault("ringostat: 403 credentials refused")
    store.state.set_provider_fault("ringostat: 403 credentials refused")
    store.state.set_provider_fault("ringostat: 401 unauthorized")
    assert _events(store) == [(SEND_ALERT, "provider_fault"), (SEND_ALERT, "provider_fault")]


def test_a_lead_scheduled_from_the_start(store: LeadStore) -> None:
    store.insert(Lead(phone="+380671112233", provider="dry-run", status=S.SCHEDULED))
    assert _events(store) == [
        (DELIVER_WEBHOOK, "lead.accepted"),
        (DELIVER_WEBHOOK, "lead.scheduled"),
        (SEND_ALERT, "scheduled"),
    ]


def test_purge_forgets_what_finished_deliveries_sent(store: LeadStore) -> None:
    from datetime import UTC, datetime, timedelta

    store.insert(Lead(phone="+380671112233", name="Olena", provider="dry-run"))
    claimed = [
        t for t in store.tasks.claim(timedelta(seconds=30), limit=10) if t.kind == DELIVER_WEBHOOK
    ]
    [sent, *_] = claimed
    assert "+380671112233" in str(sent.payload)
    assert store.tasks.finish(sent)

    assert retention.purge(store, datetime.now(UTC) + timedelta(seconds=1)) == (0, 1)  # queued

    with store._read() as session:
        payloads = {t.id: t.payload for t in session.scalars(select(Task))}
    assert payloads[sent.id] is None
    assert "+380671112233" not in str(payloads)


def test_a_delivery_whose_handler_kept_raising_alerts_as_it_is_given_up(
    store: LeadStore, requests_mock: Mocker
) -> None:
    """Not only a receiver's refusal: a delivery given up on for any reason says so."""
    from service.events.handlers import EventHandlers
    from service.tasks import TaskRunner

    settings = Settings(database_url=store.url, events=EVENTS)
    runner = TaskRunner(settings, store)
    EventHandlers(settings, store).register(runner)
    lead, _ = store.insert(Lead(phone="+380671112233", provider="dry-run"))
    assert store.transition(lead.id, S.FAILED)  # lead.failed: a webhook, an alert, GA4
    # The HTTP library raises what nobody expected, on every try.
    requests_mock.post("https://crm.example.com/hook", exc=ValueError("unexpected"))
    [webhook] = [
        t
        for t in store.tasks.of_lead(lead.id)
        if t.kind == DELIVER_WEBHOOK and (t.payload or {}).get("type") == "lead.failed"
    ]
    alerts_before = [t.id for t in store.tasks.of_kind(SEND_ALERT)]
    with store.transaction() as conn:  # its last attempt, as after five failed ones
        conn.execute(update(TASKS).where(TASKS.c.id == webhook.id).values(attempts=5))
    claimed = store.tasks.claim(timedelta(seconds=30), limit=10)
    [last_try] = [t for t in claimed if t.id == webhook.id]
    runner.run(last_try)
    given_up = store.tasks.get(webhook.id)
    assert given_up is not None and given_up.state == GAVE_UP
    new = [t for t in store.tasks.of_kind(SEND_ALERT) if t.id not in alerts_before]
    assert [t.payload["alert"]["kind"] for t in new if t.payload] == ["webhook_failed"]
