"""`callgate leads release` of a lead held by the daily budget whose visitor chose a time: it
is booked for that time (the next slot with room when it filled meanwhile), not called at once;
a chosen time that has passed is a call due now. The CLI reads the office hours from its own
environment, as the service does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import time_machine
from click.testing import CliRunner
from flask import Flask

from service.cli import main
from service.config import HoursSettings
from service.hours_syntax import parse_week
from tests.conftest import services
from tests.fakes.provider import FakeProvider

KYIV = ZoneInfo("Europe/Kyiv")
MONDAY_9_10 = datetime(2026, 11, 30, 9, 10, tzinfo=KYIV)
WEEK = "Mon-Fri 09:00-18:00"


def _app(make_app: Callable[..., Flask], fake: FakeProvider, capacity: int) -> Flask:
    hours = HoursSettings(week=parse_week(WEEK), slot_capacity=capacity, schedule_days=1)
    return make_app(
        provider="ringostat",
        ringostat={"api_url": fake.url},
        dedupe_window=0,
        daily_call_budget=1,
        hours=hours,
    )


def _post(app: Flask, phone: str, call_at: datetime | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"phone": phone}
    if call_at is not None:
        body["call_at"] = call_at.isoformat()
    response = app.test_client().post("/api/v1/callbacks", json=body)
    assert response.status_code == 202, response.get_json()
    answer: dict[str, Any] = response.get_json()
    return answer


def _status(app: Flask, lead_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = app.test_client().get(f"/api/v1/callbacks/{lead_id}").get_json()
    return answer


def _release(app: Flask, lead_id: str, capacity: int) -> str:
    env = {
        "CALLGATE_DATABASE_URL": services(app).settings.database_url,
        "CALLGATE_OFFICE_HOURS": WEEK,
        "CALLGATE_SLOT_CAPACITY": str(capacity),
        "CALLGATE_SCHEDULE_DAYS": "1",
    }
    result = CliRunner().invoke(main, ["leads", "release", lead_id], env=env)
    assert result.exit_code == 0 and "1 lead(s) released" in result.output, result.output
    return result.output


def _budget_spent(app: Flask) -> None:
    _post(app, "+380671110000")
    assert services(app).dispatcher.run_once()


def test_a_held_lead_is_booked_for_the_time_its_visitor_chose_when_released(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    chosen = datetime(2026, 11, 30, 15, 0, tzinfo=KYIV)
    with time_machine.travel(MONDAY_9_10, tick=False) as clock:
        app = _app(make_app, fake_provider, capacity=3)
        _budget_spent(app)
        held = _post(app, "+380671112233", chosen)
        assert held["status"] == "held"
        clock.shift(timedelta(minutes=20))
        said = _release(app, held["id"], capacity=3)
        assert f"lead {held['id']}: booked for 2026-11-30 15:00 Europe/Kyiv\n" in said
        status = _status(app, held["id"])
        assert status["status"] == "scheduled"
        assert datetime.fromisoformat(status["scheduled_for"]) == chosen
        assert not services(app).dispatcher.run_once()  # not called at the release
        assert len(fake_provider.received) == 1
        clock.move_to(chosen)
        assert services(app).dispatcher.run_once()
    assert _status(app, held["id"])["status"] == "placed"
    assert len(fake_provider.received) == 2


def test_a_held_lead_whose_chosen_slot_filled_meanwhile_gets_the_next_with_room(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    chosen = datetime(2026, 12, 1, 10, 0, tzinfo=KYIV)  # Tuesday
    with time_machine.travel(MONDAY_9_10, tick=False) as clock:
        app = _app(make_app, fake_provider, capacity=1)
        _budget_spent(app)
        held = _post(app, "+380671112233", chosen)
        assert held["status"] == "held"
        # Tuesday morning: a new day's budget, and another visitor takes the slot's one seat.
        clock.move_to(datetime(2026, 12, 1, 9, 5, tzinfo=KYIV))
        other = _post(app, "+380671114455", chosen)
        assert other["status"] == "scheduled"
        said = _release(app, held["id"], capacity=1)
    assert "booked for 2026-12-01 10:15 Europe/Kyiv (the time chosen had no room left)" in said
    status = _status(app, held["id"])
    assert status["status"] == "scheduled"
    assert datetime.fromisoformat(status["scheduled_for"]) == chosen + timedelta(minutes=15)


def test_a_held_lead_whose_chosen_time_has_passed_is_called_when_released(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    with time_machine.travel(MONDAY_9_10, tick=False) as clock:
        app = _app(make_app, fake_provider, capacity=3)
        _budget_spent(app)
        held = _post(app, "+380671112233", datetime(2026, 11, 30, 10, 0, tzinfo=KYIV))
        clock.move_to(datetime(2026, 11, 30, 11, 0, tzinfo=KYIV))
        said = _release(app, held["id"], capacity=3)
        assert f"lead {held['id']}: queued, to be called now" in said
        assert _status(app, held["id"])["status"] == "queued"
        assert services(app).dispatcher.run_once()
    assert _status(app, held["id"])["status"] == "placed"
    assert len(fake_provider.received) == 2
