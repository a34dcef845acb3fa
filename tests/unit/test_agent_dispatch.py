"""CALLGATE_REQUIRE_AGENT_ONLINE: the dispatcher places a lead only when an agent can answer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from service.config import AgentSettings
from service.leads import Lead
from service.leads.model import utcnow
from tests.conftest import services
from tests.fakes.sipstatus import FakeSipStatus
from tests.servers import free_port, wait_until


@pytest.fixture
def sip() -> Iterator[FakeSipStatus]:
    fake = FakeSipStatus().start()
    yield fake
    fake.stop()


def _app(make_app: Callable[..., Flask], api_url: str, **agents: Any) -> Flask:
    return make_app(
        provider="ringostat",
        ringostat={"api_url": api_url},
        agents=AgentSettings(require_online=True, recheck_cap=0.05, **agents),
        dedupe_window=0,
    )


def _submit(app: Flask) -> str:
    response = app.test_client().post("/api/v1/callbacks", json={"phone": "0671112233"})
    assert response.status_code == 202
    lead_id: str = response.get_json()["id"]
    return lead_id


def _lead(app: Flask, lead_id: str) -> Lead:
    lead = services(app).store.get(lead_id, with_attempts=True)
    assert lead is not None
    return lead


def _recheck(app: Flask, lead_id: str) -> None:
    """Let the re-check task fall due and run it (the lead is queued again), then the call's."""
    [task] = [t for t in services(app).store.tasks.of_lead(lead_id) if t.state == "pending"]
    assert task.kind == "recheck_agents"
    wait_until(lambda: task.due_at <= utcnow(), 5, "re-check due")
    assert services(app).dispatcher.run_once()
    assert _lead(app, lead_id).status == "queued"
    assert services(app).dispatcher.run_once()


def test_no_agent_online_waits_then_places_when_one_is(
    make_app: Callable[..., Flask], sip: FakeSipStatus
) -> None:
    sip.agents(online=[])
    app = _app(make_app, sip.url)
    lead_id = _submit(app)
    assert services(app).dispatcher.run_once()
    lead = _lead(app, lead_id)
    assert (lead.status, lead.attempt_count, lead.agent_checks) == ("waiting_for_agent", 0, 1)
    assert lead.attempts == [] and sip.callbacks() == []
    assert app.test_client().get(f"/api/v1/callbacks/{lead_id}").get_json()["status"] == (
        "waiting_for_agent"
    )

    _recheck(app, lead_id)  # still nobody
    assert _lead(app, lead_id).agent_checks == 2
    assert sip.callbacks() == []

    sip.agents(online=["manager_1"])
    monitor = services(app).dispatcher.agents
    assert monitor is not None
    monitor.refresh(fresh_for=0)
    _recheck(app, lead_id)
    lead = _lead(app, lead_id)
    assert (lead.status, lead.attempt_count) == ("placed", 1)
    assert len(sip.callbacks()) == 1


def test_a_speaking_agent_is_not_free(make_app: Callable[..., Flask], sip: FakeSipStatus) -> None:
    sip.agents(online=["manager_1"], speaking=["manager_1"])
    app = _app(make_app, sip.url)
    lead_id = _submit(app)
    assert services(app).dispatcher.run_once()
    assert _lead(app, lead_id).status == "waiting_for_agent"
    assert sip.callbacks() == []


def test_only_the_configured_agents_count(
    make_app: Callable[..., Flask], sip: FakeSipStatus
) -> None:
    sip.agents(online=["someone_else"])
    app = _app(make_app, sip.url, logins=("manager_1",))
    lead_id = _submit(app)
    assert services(app).dispatcher.run_once()
    assert _lead(app, lead_id).status == "waiting_for_agent"


def test_a_free_agent_lets_the_lead_through_at_once(
    make_app: Callable[..., Flask], sip: FakeSipStatus
) -> None:
    sip.agents(online=["manager_1", "manager_2"], speaking=["manager_1"])
    app = _app(make_app, sip.url, logins=("manager_1", "manager_2"))
    lead_id = _submit(app)
    assert services(app).dispatcher.run_once()
    assert _lead(app, lead_id).status == "placed"
    # The dispatcher asked Ringostat itself: nothing was cached before the lead came.
    assert {r.path for r in sip.status_requests()} == {"/sipstatus/online", "/sipstatus/speaking"}


def test_an_unreachable_status_api_means_waiting(make_app: Callable[..., Flask]) -> None:
    app = _app(make_app, f"http://127.0.0.1:{free_port()}")
    lead_id = _submit(app)
    assert services(app).dispatcher.run_once()
    assert _lead(app, lead_id).status == "waiting_for_agent"


def test_a_waiting_lead_is_the_open_lead_for_a_repeat(
    make_app: Callable[..., Flask], sip: FakeSipStatus
) -> None:
    sip.agents(online=[])
    app = make_app(
        provider="ringostat",
        ringostat={"api_url": sip.url},
        agents=AgentSettings(require_online=True),
    )
    lead_id = _submit(app)
    assert services(app).dispatcher.run_once()
    again = app.test_client().post("/api/v1/callbacks", json={"phone": "+380671112233"})
    assert again.status_code == 200 and again.get_json()["id"] == lead_id


def test_without_the_setting_nobody_is_asked(
    make_app: Callable[..., Flask], sip: FakeSipStatus
) -> None:
    app = make_app(provider="ringostat", ringostat={"api_url": sip.url})
    lead_id = _submit(app)
    assert services(app).dispatcher.run_once()
    assert _lead(app, lead_id).status == "placed"
    assert sip.status_requests() == []


@pytest.mark.parametrize(
    ("callee_type", "callee", "destination"),
    [
        ("sip", "manager_7", "manager_7"),
        ("number", "+380 44 777 66 55", "380447776655"),
        ("scheme", "4242", None),
    ],
)
def test_the_destination_is_recorded_when_placed(
    make_app: Callable[..., Flask],
    sip: FakeSipStatus,
    callee_type: str,
    callee: str,
    destination: str | None,
) -> None:
    app = make_app(
        provider="ringostat",
        ringostat={"api_url": sip.url, "callee_type": callee_type, "callee": callee},
    )
    lead_id = _submit(app)
    assert services(app).dispatcher.run_once()
    lead = _lead(app, lead_id)
    assert (lead.status, lead.destination) == ("placed", destination)


def test_the_dispatcher_loop_rechecks_waiting_leads(
    make_app: Callable[..., Flask], sip: FakeSipStatus
) -> None:
    sip.agents(online=[])
    app = make_app(
        provider="ringostat",
        ringostat={"api_url": sip.url},
        agents=AgentSettings(
            require_online=True, recheck_cap=0.05, status_ttl=0.05, status_max_age=0.1
        ),
        dispatcher="inline",
        dispatch_poll=0.05,
    )
    lead_id = _submit(app)
    wait_until(lambda: _lead(app, lead_id).status == "waiting_for_agent", 10, "waiting")
    sip.agents(online=["manager_1"])
    wait_until(lambda: _lead(app, lead_id).status == "placed", 10, "placed")
    assert len(sip.callbacks()) == 1
