"""Events out with real processes: a webhook survives its receiver being down and the
``callgate worker`` delivering it being SIGKILLed."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from service.config import EventSettings, Settings
from service.database import migrate
from service.events.hook import outbox_for
from service.leads import Lead, LeadStore
from service.leads.model import Task
from service.tasks.queue import DELIVER_WEBHOOK
from tests.api.test_events_delivery import alert_burst
from tests.fakes.provider import FakeProvider
from tests.servers import Worker, free_port, wait_until

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


@pytest.fixture
def store_and_env(tmp_path: Path) -> Iterator[tuple[LeadStore, dict[str, str], int]]:
    port = free_port()  # the receiver's, down for now
    url = f"sqlite:///{tmp_path}/callgate.db"
    hook = f"http://127.0.0.1:{port}/hook"
    env = {
        "CALLGATE_DATABASE_URL": url,
        "CALLGATE_DISPATCHER": "external",
        "CALLGATE_DISPATCH_POLL": "0.2s",
        "CALLGATE_DISPATCH_LEASE": "1s",
        "CALLGATE_WEBHOOK_URL": hook,
        "CALLGATE_WEBHOOK_SECRET": SECRET,
        "CALLGATE_WEBHOOK_EVENTS": "lead.accepted",
    }
    events = EventSettings(
        webhook_urls=(hook,), webhook_secret=SECRET, webhook_events=("lead.accepted",)
    )
    store = LeadStore(url, outbox=outbox_for(Settings(database_url=url, events=events)))
    migrate(store)
    yield store, env, port
    store.close()


def _delivery(store: LeadStore) -> Task:
    with store._read() as session:
        return session.scalars(select(Task).where(Task.kind == DELIVER_WEBHOOK)).one()


def test_receiver_down_and_worker_killed_the_event_still_arrives(
    store_and_env: tuple[LeadStore, dict[str, str], int],
    start_worker: Callable[..., Worker],
) -> None:
    store, env, port = store_and_env
    doomed = start_worker(env, name="doomed")
    lead, _ = store.insert(Lead(phone="+380671112233", provider="dry-run"))
    # The worker tried, the connection was refused: due again in 5 s.
    wait_until(lambda: _delivery(store).last_error is not None, what="a first try")
    assert _delivery(store).state == "pending"
    assert "connection failed" in (_delivery(store).last_error or "")
    doomed.kill()

    receiver = FakeProvider(port=port).start()
    try:
        receiver.set(statuses=[200], body=lambda _: {})
        start_worker(env, name="survivor")
        [received] = receiver.wait_for(1, timeout=30)
        body = Webhook(SECRET).verify(received.body, received.headers)
        assert body["type"] == "lead.accepted"  # type: ignore[index]
        assert body["data"]["id"] == lead.id  # type: ignore[index]
        wait_until(lambda: _delivery(store).state == "done", what="the delivery recorded")
        assert received.headers["webhook-id"] == (_delivery(store).payload or {})["webhook_id"]
    finally:
        receiver.stop()


def test_twenty_failures_with_two_workers_on_postgresql(pg_database: str) -> None:
    """The channel's minute and the take-over of its alerts hold on PostgreSQL too."""
    alert_burst(
        lambda **overrides: Settings(
            database_url=pg_database, retry_base=0.01, retry_cap=0.05
        ).model_copy(update=overrides)
    )
