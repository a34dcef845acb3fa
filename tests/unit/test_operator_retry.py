"""`callgate leads retry`: a failed lead or an unconfirmed placement is called again; a
confirmed placement never is (the visitor was called). `callgate leads release`: a held lead is
called. Either counts CALLGATE_MAX_AGE from the operator's decision."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import time_machine
from click.testing import CliRunner, Result
from flask import Flask

from service.cli import main
from tests.conftest import services
from tests.fakes.provider import FakeProvider


def _app(make_app: Callable[..., Flask], fake: FakeProvider, **overrides: object) -> Flask:
    return make_app(
        provider="ringostat", ringostat={"api_url": fake.url}, dedupe_window=0, **overrides
    )


def _placed(app: Flask) -> str:
    response = app.test_client().post("/api/v1/callbacks", json={"phone": "0671112233"})
    assert response.status_code == 202
    assert services(app).dispatcher.run_once()
    lead_id: str = response.get_json()["id"]
    return lead_id


def _retry(app: Flask, lead_id: str, command: str = "retry") -> Result:
    url = services(app).settings.database_url
    return CliRunner().invoke(main, ["leads", command, lead_id], env={"CALLGATE_DATABASE_URL": url})


def test_a_confirmed_placement_is_not_called_again(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    app = _app(make_app, fake_provider)
    lead_id = _placed(app)
    lead = services(app).store.get(lead_id)
    assert lead is not None and (lead.status, lead.confirmed) == ("placed", True)
    result = _retry(app, lead_id)
    assert result.exit_code != 0
    assert "is placed: only a failed lead or an unconfirmed placement" in result.output
    assert not services(app).dispatcher.run_once()  # nothing was queued
    assert len(fake_provider.received) == 1
    lead = services(app).store.get(lead_id)
    assert lead is not None and lead.status == "placed"


def test_an_unconfirmed_placement_is_called_again_on_request(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    fake_provider.set(delay=1.0)
    app = _app(make_app, fake_provider, provider_read_timeout=0.2)
    lead_id = _placed(app)
    lead = services(app).store.get(lead_id)
    assert lead is not None and (lead.status, lead.confirmed) == ("placed", False)
    fake_provider.set(delay=0.0)
    result = _retry(app, lead_id)
    assert result.exit_code == 0 and f"lead {lead_id} queued" in result.output
    assert services(app).dispatcher.run_once()
    lead = services(app).store.get(lead_id)
    assert lead is not None and (lead.status, lead.confirmed) == ("placed", True)
    assert len(fake_provider.received) == 2


def test_a_failed_lead_is_called_again_on_request(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    fake_provider.set(statuses=[400, 200])
    app = _app(make_app, fake_provider)
    lead_id = _placed(app)
    lead = services(app).store.get(lead_id)
    assert lead is not None and lead.status == "failed"
    assert _retry(app, lead_id).exit_code == 0
    assert services(app).dispatcher.run_once()
    lead = services(app).store.get(lead_id)
    assert lead is not None and lead.status == "placed"
    assert _retry(app, "no-such-lead").exit_code != 0


def test_a_failed_lead_older_than_max_age_is_called_when_retried(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    fake_provider.set(statuses=[400, 200])
    with time_machine.travel(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), tick=False) as clock:
        app = _app(make_app, fake_provider)
        assert services(app).settings.max_age == 3600
        lead_id = _placed(app)
        clock.shift(timedelta(hours=3))  # the request is older than CALLGATE_MAX_AGE
        assert _retry(app, lead_id).exit_code == 0
        assert services(app).dispatcher.run_once()
    lead = services(app).store.get(lead_id)
    assert lead is not None and lead.status == "placed"
    assert len(fake_provider.received) == 2


def test_a_lead_held_overnight_by_the_budget_is_called_when_released(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    with time_machine.travel(datetime(2026, 12, 1, 20, 0, tzinfo=UTC), tick=False) as clock:
        app = _app(make_app, fake_provider, daily_call_budget=1)
        _placed(app)
        response = app.test_client().post("/api/v1/callbacks", json={"phone": "0671112244"})
        assert response.status_code == 202 and response.get_json()["status"] == "held"
        held = response.get_json()["id"]
        clock.shift(timedelta(hours=13))  # the next morning
        result = _retry(app, held, command="release")
        assert result.exit_code == 0, result.output
        assert services(app).dispatcher.run_once()
    lead = services(app).store.get(held)
    assert lead is not None and lead.status == "placed"
    assert len(fake_provider.received) == 2
