"""On PostgreSQL (several instances share it): migration 0003, waiting for an agent, sticky."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from service.config import AgentSettings, RouteSettings
from service.leads.model import utcnow
from tests.conftest import services
from tests.fakes.sipstatus import FakeSipStatus
from tests.servers import wait_until

TOKEN = "postgres-route-token-0123456789"


@pytest.fixture
def sip() -> Iterator[FakeSipStatus]:
    fake = FakeSipStatus().start()
    yield fake
    fake.stop()


def test_wait_place_and_route_back_on_postgres(
    make_app: Callable[..., Flask], sip: FakeSipStatus, pg_database: str
) -> None:
    sip.agents(online=[])
    app = make_app(
        database_url=pg_database,
        provider="ringostat",
        ringostat={"api_url": sip.url, "callee_type": "sip", "callee": "manager_7"},
        agents=AgentSettings(require_online=True, recheck_cap=0.05),
        route=RouteSettings(token=TOKEN, fallback="380441234567"),
        dedupe_window=0,
    )
    svc = services(app)
    assert svc.agents is not None
    try:
        client = app.test_client()
        lead_id = client.post("/api/v1/callbacks", json={"phone": "0671112233"}).get_json()["id"]
        assert svc.dispatcher.run_once()
        lead = svc.store.get(lead_id)
        assert lead is not None and lead.status == "waiting_for_agent"
        assert (lead.attempt_count, lead.agent_checks) == (0, 1)

        sip.agents(online=["manager_1"])
        svc.agents.refresh(fresh_for=0)
        [recheck] = [t for t in svc.store.tasks.of_lead(lead_id) if t.state == "pending"]
        wait_until(lambda: recheck.due_at <= utcnow(), 5, "re-check due")
        assert svc.dispatcher.run_once()  # the re-check: queued again
        assert svc.dispatcher.run_once()  # the call
        lead = svc.store.get(lead_id)
        assert lead is not None and (lead.status, lead.destination) == ("placed", "manager_7")

        answer = client.get(
            f"/api/v1/ringostat/route/{TOKEN}", query_string={"caller": "380671112233"}
        )
        assert answer.get_json() == {"destination": "manager_7"}
        answer = client.get(
            f"/api/v1/ringostat/route/{TOKEN}", query_string={"caller": "380501234567"}
        )
        assert answer.get_json() == {"destination": "manager_1"}
    finally:
        svc.agents.stop()
