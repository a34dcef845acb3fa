"""The dispatcher against a loopback Ringostat: outcomes, retries, leases, exactly once."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from flask import Flask

from service.leads import LeadStatus
from service.leads.model import utcnow
from tests.conftest import services
from tests.fakes.provider import FakeProvider
from tests.servers import free_port, wait_until

URL = "/api/v1/callbacks"


def _app(make_app: Callable[..., Flask], fake: FakeProvider | None, **overrides: object) -> Flask:
    api_url = fake.url if fake else f"http://127.0.0.1:{free_port()}"
    return make_app(
        provider="ringostat",
        ringostat={"api_url": api_url},
        dedupe_window=0,
        limit_per_ip="1000/minute",
        limit_per_phone="1000/minute",
        **overrides,
    )


def _submit(app: Flask, phone: str = "0671112233") -> str:
    response = app.test_client().post(URL, json={"phone": phone})
    assert response.status_code == 202
    lead_id: str = response.get_json()["id"]
    return lead_id


def _lead(app: Flask, lead_id: str):  # type: ignore[no-untyped-def]
    lead = services(app).store.get(lead_id, with_attempts=True)
    assert lead is not None
    return lead


def _due(app: Flask, lead_id: str) -> datetime:
    """When the lead's pending place_call task falls due."""
    [task] = [t for t in services(app).store.tasks.of_lead(lead_id) if t.state == "pending"]
    assert task.kind == "place_call"
    return task.due_at


def _run_due(app: Flask, lead_id: str) -> None:
    """Wait until the lead's retry falls due, then dispatch it."""
    due = _due(app, lead_id)
    wait_until(lambda: due <= utcnow(), 5, "retry due")
    assert services(app).dispatcher.run_once()


def test_placed(make_app: Callable[..., Flask], fake_provider: FakeProvider) -> None:
    app = _app(make_app, fake_provider)
    lead_id = _submit(app)
    assert _lead(app, lead_id).status == "queued"  # the request did not call the provider
    assert fake_provider.received == []
    assert services(app).dispatcher.run_once()
    lead = _lead(app, lead_id)
    assert (lead.status, lead.confirmed, lead.attempt_count) == ("placed", True, 1)
    assert lead.placed_at is not None
    assert [a.outcome for a in lead.attempts] == ["placed"]
    assert lead.attempts[0].http_status == 200
    assert not services(app).dispatcher.run_once()  # nothing else is due
    assert len(fake_provider.received) == 1


def test_a_passing_failure_is_retried_with_backoff(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    fake_provider.set(statuses=[500, 503, 200])
    app = _app(make_app, fake_provider)
    lead_id = _submit(app)
    assert services(app).dispatcher.run_once()
    lead = _lead(app, lead_id)
    assert lead.status == "queued" and _due(app, lead_id) > lead.created_at
    assert lead.last_error == "Ringostat failed (HTTP 500)"
    _run_due(app, lead_id)
    _run_due(app, lead_id)
    lead = _lead(app, lead_id)
    assert lead.status == "placed"
    assert [a.outcome for a in lead.attempts] == ["retry", "retry", "placed"]
    assert [a.http_status for a in lead.attempts] == [500, 503, 200]
    assert fake_provider.accepted["380671112233"] == 1


def test_retry_after_of_a_429_is_honoured(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    fake_provider.set(statuses=[429], headers={"Retry-After": "120"})
    app = _app(make_app, fake_provider)
    lead_id = _submit(app)
    before = utcnow()
    services(app).dispatcher.run_once()
    lead = _lead(app, lead_id)
    assert lead.status == "queued"
    assert _due(app, lead_id) >= before + timedelta(seconds=119)


@pytest.mark.parametrize(("status", "words"), [(400, "refused the call"), (403, "credentials")])
def test_permanent_failures_are_not_retried(
    make_app: Callable[..., Flask], fake_provider: FakeProvider, status: int, words: str
) -> None:
    fake_provider.set(statuses=[status])
    app = _app(make_app, fake_provider)
    lead_id = _submit(app)
    services(app).dispatcher.run_once()
    lead = _lead(app, lead_id)
    assert lead.status == "failed" and words in (lead.last_error or "")
    assert not services(app).dispatcher.run_once()
    assert len(fake_provider.received) == 1


def test_a_refusal_that_names_the_number_is_kept_with_the_number_masked(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    """What the provider says is kept as the lead's last error and sent in alerts: never the
    visitor's number in full."""
    fake_provider.set(
        statuses=[400], body=lambda _: {"message": "Invalid phone number +380671112233"}
    )
    app = _app(make_app, fake_provider)
    lead_id = _submit(app)
    services(app).dispatcher.run_once()
    lead = _lead(app, lead_id)
    assert lead.status == "failed" and "+38067*****33" in (lead.last_error or "")
    assert "380671112233" not in (lead.last_error or "")


def test_a_configuration_fault_makes_readyz_fail_until_a_call_succeeds(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    fake_provider.set(statuses=[403, 200])
    app = _app(make_app, fake_provider)
    client = app.test_client()
    _submit(app, "0671112233")
    services(app).dispatcher.run_once()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "configuration fault" in ready.get_json()["checks"]["provider"]
    assert "test-auth-key" not in ready.get_data(as_text=True)
    _submit(app, "0671112234")
    services(app).dispatcher.run_once()
    assert client.get("/readyz").status_code == 200


def test_jsonrpc_error_fails_the_lead(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    fake_provider.set(
        body=lambda _: {
            "jsonrpc": "2.0",
            "id": 1,
            "error": {"code": 1, "message": "invalid caller"},
        }
    )
    app = _app(make_app, fake_provider)
    lead_id = _submit(app)
    services(app).dispatcher.run_once()
    assert _lead(app, lead_id).status == "failed"


def test_gives_up_after_max_attempts(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    fake_provider.set(statuses=[500])
    app = _app(make_app, fake_provider, max_attempts=3)
    lead_id = _submit(app)
    services(app).dispatcher.run_once()
    _run_due(app, lead_id)
    _run_due(app, lead_id)
    lead = _lead(app, lead_id)
    assert lead.status == "failed" and lead.attempt_count == 3
    assert [a.outcome for a in lead.attempts] == ["retry", "retry", "failed"]


def test_a_lead_older_than_max_age_fails_without_a_call(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    app = _app(make_app, fake_provider, max_age=0.05)
    lead_id = _submit(app)
    time.sleep(0.1)
    services(app).dispatcher.run_once()
    assert _lead(app, lead_id).status == "failed"
    assert fake_provider.received == []


def test_refused_connection_is_retried(make_app: Callable[..., Flask]) -> None:
    app = _app(make_app, None)
    lead_id = _submit(app)
    services(app).dispatcher.run_once()
    lead = _lead(app, lead_id)
    assert lead.status == "queued" and lead.last_error == "connection failed"


def test_read_timeout_is_placed_unconfirmed_and_never_retried(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    fake_provider.set(delay=1.0)
    app = _app(make_app, fake_provider, provider_read_timeout=0.2)
    lead_id = _submit(app)
    services(app).dispatcher.run_once()
    lead = _lead(app, lead_id)
    assert (lead.status, lead.confirmed) == ("placed", False)
    assert [a.outcome for a in lead.attempts] == ["unknown"]
    assert not services(app).dispatcher.run_once()
    assert len(fake_provider.received) == 1


def test_an_expired_lease_before_sending_goes_back_to_the_queue(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    app = _app(make_app, fake_provider)
    store = services(app).store
    lead_id = _submit(app)
    [claimed] = store.tasks.claim(timedelta(seconds=-1))  # a worker that died right after claiming
    assert claimed.lead_id == lead_id
    assert services(app).dispatcher.reclaim_expired() == (1, 0)
    assert services(app).dispatcher.run_once()
    assert _lead(app, lead_id).status == "placed"
    assert len(fake_provider.received) == 1


def test_an_expired_lease_after_sending_is_settled_not_resent(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    app = _app(make_app, fake_provider)
    store = services(app).store
    lead_id = _submit(app)
    [claimed] = store.tasks.claim(timedelta(seconds=-1))
    # The request went out, then the worker died.
    assert store.transition(lead_id, LeadStatus.DISPATCHING, task=claimed, in_flight=True)
    assert services(app).dispatcher.reclaim_expired() == (0, 1)
    lead = _lead(app, lead_id)
    assert (lead.status, lead.confirmed) == ("placed", False)
    assert [a.outcome for a in lead.attempts] == ["unknown"]
    assert not services(app).dispatcher.run_once()
    assert fake_provider.received == []


def test_a_lead_is_claimed_once(make_app: Callable[..., Flask]) -> None:
    app = _app(make_app, None)
    store = services(app).store
    _submit(app)
    first = store.tasks.claim(timedelta(seconds=30))
    second = store.tasks.claim(timedelta(seconds=30))
    assert len(first) == 1 and second == []


def test_a_worker_that_lost_its_lease_cannot_overwrite_the_outcome(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    app = _app(make_app, fake_provider)
    store = services(app).store
    lead_id = _submit(app)
    [stale] = store.tasks.claim(timedelta(seconds=-1))
    services(app).dispatcher.reclaim_expired()
    assert services(app).dispatcher.run_once()  # another worker places it
    assert not store.transition(lead_id, LeadStatus.FAILED, task=stale)
    assert not store.tasks.finish(stale, error="stale")
    assert _lead(app, lead_id).status == "placed"


def test_inline_dispatcher_is_woken_at_once(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    # With a 60 s poll, a call within the wait below can only come from the notification.
    app = _app(make_app, fake_provider, dispatcher="inline", dispatch_poll=60.0)
    lead_id = _submit(app)
    fake_provider.wait_for(1, timeout=10)
    wait_until(lambda: _lead(app, lead_id).status == "placed", 10, "placed")


def test_operator_retry_of_a_failed_lead(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    fake_provider.set(statuses=[400, 200])
    app = _app(make_app, fake_provider)
    store = services(app).store
    lead_id = _submit(app)
    services(app).dispatcher.run_once()
    assert _lead(app, lead_id).status == "failed"
    assert store.retry(lead_id)
    assert services(app).dispatcher.run_once()
    assert _lead(app, lead_id).status == "placed"
    assert not store.retry("no-such-lead")


def test_a_retry_due_later_is_shown_as_scheduled(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    fake_provider.set(statuses=[429], headers={"Retry-After": "120"})
    app = _app(make_app, fake_provider)
    lead_id = _submit(app)
    client = app.test_client()
    assert "scheduled_for" not in client.get(f"{URL}/{lead_id}").get_json()
    services(app).dispatcher.run_once()
    body = client.get(f"{URL}/{lead_id}").get_json()
    assert body["status"] == "queued"
    assert datetime.fromisoformat(body["scheduled_for"]) == _due(app, lead_id)
