"""Placed RingCentral calls followed to their end, and cancelled by an operator.

The store is real (SQLite, migrated); RingCentral is faked at the HTTP boundary.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests_mock as rm
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner

from service.cli import main
from service.config import RingCentralSettings, Settings
from service.database import migrate
from service.dispatch import Dispatcher
from service.leads import Lead, LeadStore
from service.leads.model import Base, Task, utcnow
from service.providers import Provider, build_provider
from service.tracking import CancelRefused, cancel_lead
from tests.conftest import SettingsFactory

SERVER = "https://rc.test"
RING_OUT = f"{SERVER}/restapi/v1.0/account/~/extension/~/ring-out"
RC = RingCentralSettings(server_url=SERVER, client_id="c", client_secret="s" * 8, jwt="j" * 8)


def status(call: str, caller: str, callee: str) -> dict[str, Any]:
    return {
        "id": "42",
        "status": {"callStatus": call, "callerStatus": caller, "calleeStatus": callee},
    }


RINGING = status("InProgress", "Success", "InProgress")


@pytest.fixture
def rc(requests_mock: rm.Mocker) -> rm.Mocker:
    requests_mock.post(
        f"{SERVER}/restapi/oauth/token", json={"access_token": "t", "expires_in": 3600}
    )
    requests_mock.post(RING_OUT, json={"id": "42", **RINGING})
    return requests_mock


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings(provider="ringcentral", ringcentral=RC, status_poll_interval=0.0)


@pytest.fixture
def store(settings: Settings) -> Iterator[LeadStore]:
    found = LeadStore(settings.database_url)
    migrate(found)
    yield found
    found.close()


def pending_check(store: LeadStore, lead_id: str) -> Task | None:
    """The lead's pending poll_call_status task, if any."""
    pending = [t for t in store.tasks.of_lead(lead_id) if t.state == "pending"]
    assert all(t.kind == "poll_call_status" for t in pending) and len(pending) <= 1
    return pending[0] if pending else None


def placed_lead(settings: Settings, store: LeadStore, provider: Provider) -> Lead:
    lead, _ = store.insert(Lead(phone="+380671112233"))
    assert Dispatcher(settings, store, provider).run_once()
    found = store.get(lead.id)
    assert found is not None and found.status == "placed"
    return found


def test_a_placed_ring_out_is_followed_until_connected(
    settings: Settings, store: LeadStore, rc: rm.Mocker
) -> None:
    provider = build_provider(settings)
    lead = placed_lead(settings, store, provider)
    assert lead.provider_ref == "42" and pending_check(store, lead.id) is not None
    checker = Dispatcher(settings, store, provider)
    rc.get(f"{RING_OUT}/42", [{"json": RINGING}, {"json": status("Success", "Success", "Success")}])
    assert checker.run_once()
    ringing = store.get(lead.id)
    assert ringing is not None and ringing.status == "placed"
    assert ringing.provider_status == "call=InProgress caller=Success callee=InProgress"
    assert checker.run_once()
    done = store.get(lead.id)
    assert done is not None and done.status == "connected"
    assert pending_check(store, lead.id) is None
    assert not checker.run_once()  # nothing left to ask about
    assert len([r for r in rc.request_history if r.method == "GET"]) == 2


def test_a_busy_visitor_fails_the_lead_with_the_reason(
    settings: Settings, store: LeadStore, rc: rm.Mocker
) -> None:
    provider = build_provider(settings)
    lead = placed_lead(settings, store, provider)
    rc.get(f"{RING_OUT}/42", json=status("InProgress", "Success", "Busy"))
    assert Dispatcher(settings, store, provider).run_once()
    found = store.get(lead.id)
    assert found is not None
    assert (found.status, found.last_error) == ("failed", "callee Busy")


def test_a_rate_limited_poll_waits_as_asked(
    settings: Settings, store: LeadStore, rc: rm.Mocker
) -> None:
    provider = build_provider(settings)
    lead = placed_lead(settings, store, provider)
    rc.get(f"{RING_OUT}/42", status_code=429, headers={"Retry-After": "40"})
    assert Dispatcher(settings, store, provider).run_once()
    found = store.get(lead.id)
    check = pending_check(store, lead.id)
    assert found is not None and found.status == "placed" and check is not None
    assert check.due_at >= utcnow() + timedelta(seconds=35)


def test_polling_stops_when_its_time_is_up(
    settings: Settings, store: LeadStore, rc: rm.Mocker
) -> None:
    provider = build_provider(settings)
    lead = placed_lead(settings, store, provider)
    rc.get(f"{RING_OUT}/42", json=RINGING)
    short = Settings(**{**settings.__dict__, "status_poll_for": 0.0})
    assert Dispatcher(short, store, provider).run_once()
    found = store.get(lead.id)
    assert found is not None and found.status == "placed"
    assert pending_check(store, lead.id) is None
    assert found.last_error == "no final call status within 0s"


def test_a_forgotten_ring_out_stays_placed_and_is_not_asked_again(
    settings: Settings, store: LeadStore, rc: rm.Mocker
) -> None:
    provider = build_provider(settings)
    lead = placed_lead(settings, store, provider)
    rc.get(f"{RING_OUT}/42", status_code=404)
    checker = Dispatcher(settings, store, provider)
    assert checker.run_once()
    found = store.get(lead.id)
    assert found is not None and found.status == "placed"
    assert pending_check(store, lead.id) is None
    assert found.last_error is not None and found.last_error.startswith("call status unknown")
    assert not checker.run_once()


def test_one_check_at_a_time(settings: Settings, store: LeadStore, rc: rm.Mocker) -> None:
    placed_lead(settings, store, build_provider(settings))
    [check] = store.tasks.claim(timedelta(seconds=30))
    assert check.kind == "poll_call_status"
    assert store.tasks.claim(timedelta(seconds=30)) == []


def test_providers_without_status_leave_no_due_time(
    make_settings: SettingsFactory, requests_mock: rm.Mocker
) -> None:
    settings = make_settings(provider="ringostat", status_poll_interval=0.0)
    store = LeadStore(settings.database_url)
    migrate(store)
    requests_mock.post(f"{settings.ringostat.api_url}/a/v2", json={"result": True})
    lead = placed_lead(settings, store, build_provider(settings))
    assert pending_check(store, lead.id) is None
    assert store.tasks.claim(timedelta(seconds=30)) == []
    with pytest.raises(CancelRefused, match="cannot cancel"):
        cancel_lead(store, build_provider(settings), lead.id)
    store.close()


def test_cancel_hangs_up_a_ringing_call(
    settings: Settings, store: LeadStore, rc: rm.Mocker
) -> None:
    provider = build_provider(settings)
    lead = placed_lead(settings, store, provider)
    rc.delete(f"{RING_OUT}/42", status_code=204)
    assert cancel_lead(store, provider, lead.id) == f"lead {lead.id}: call cancelled"
    found = store.get(lead.id)
    assert found is not None and found.status == "cancelled"
    assert rc.last_request.method == "DELETE"


@pytest.mark.parametrize("poll_for", [3600.0, 0.0])
def test_a_status_check_that_ran_while_the_call_was_cancelled_leaves_the_lead_as_cancelled(
    settings: Settings, store: LeadStore, rc: rm.Mocker, poll_for: float
) -> None:
    provider = build_provider(settings)
    lead = placed_lead(settings, store, provider)
    [check] = store.tasks.claim(timedelta(seconds=30))  # the lead read placed, with the claim
    rc.delete(f"{RING_OUT}/42", status_code=204)
    assert cancel_lead(store, provider, lead.id) == f"lead {lead.id}: call cancelled"
    rc.get(f"{RING_OUT}/42", json=RINGING)  # what the check then hears (0 s: out of time too)
    checker = Dispatcher(
        Settings(**{**settings.__dict__, "status_poll_for": poll_for}), store, provider
    )
    checker.runner.run(check)
    found = store.get(lead.id)
    assert found is not None and found.status == "cancelled"
    assert found.last_error == "cancelled by an operator while ringing"
    assert found.provider_status == lead.provider_status  # the check's word is not kept
    assert pending_check(store, lead.id) is None  # and it is not asked again
    [task] = [t for t in store.tasks.of_lead(lead.id) if t.id == check.id]
    assert task.state == "done"


def test_cancel_of_a_finished_call_is_refused(
    settings: Settings, store: LeadStore, rc: rm.Mocker
) -> None:
    provider = build_provider(settings)
    lead = placed_lead(settings, store, provider)
    rc.delete(f"{RING_OUT}/42", status_code=404)
    with pytest.raises(CancelRefused, match="call is over"):
        cancel_lead(store, provider, lead.id)
    found = store.get(lead.id)
    assert found is not None and found.status == "placed"


def test_cancel_of_a_queued_lead_calls_nobody(
    settings: Settings, store: LeadStore, requests_mock: rm.Mocker
) -> None:
    lead, _ = store.insert(Lead(phone="+380671112233"))
    assert "before it was placed" in cancel_lead(store, build_provider(settings), lead.id)
    assert requests_mock.call_count == 0
    assert not Dispatcher(settings, store, build_provider(settings)).run_once()


def test_cli_cancel(
    settings: Settings,
    store: LeadStore,
    rc: rm.Mocker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lead = placed_lead(settings, store, build_provider(settings))
    rc.delete(f"{RING_OUT}/42", status_code=204)
    for name, value in {
        "CALLGATE_PROVIDER": "ringcentral",
        "CALLGATE_DATABASE_URL": settings.database_url,
        "CALLGATE_SECRET_KEY": "x" * 32,
        "CALLGATE_RINGCENTRAL_SERVER_URL": SERVER,
        "CALLGATE_RINGCENTRAL_CLIENT_ID": "c",
        "CALLGATE_RINGCENTRAL_CLIENT_SECRET": "s" * 8,
        "CALLGATE_RINGCENTRAL_JWT": "j" * 8,
    }.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["leads", "cancel", lead.id])
    assert result.exit_code == 0, result.output
    assert "call cancelled" in result.output
    again = CliRunner().invoke(main, ["leads", "cancel", lead.id])
    assert again.exit_code == 1 and "nothing to cancel" in again.output


def test_the_migrations_build_the_model(store: LeadStore) -> None:
    with store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
