"""Office hours wired onto the task queue, on a controlled clock: a lead that arrives while the
office is closed, or that chose a time, is stored ``scheduled`` with its ``place_call`` task due
then, is never dialled before, is checked again when it falls due, and ages from then."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from click.testing import CliRunner
from flask import Flask

from service.cli import main
from service.config import AgentSettings, HoursSettings
from service.hours_syntax import parse_holidays, parse_special_hours, parse_week
from service.leads import LeadStatus
from service.tasks import ClaimedTask
from tests.conftest import services
from tests.fakes.provider import FakeProvider
from tests.fakes.sipstatus import FakeSipStatus

KYIV = ZoneInfo("Europe/Kyiv")
URL = "/api/v1/callbacks"
WEEKDAYS = parse_week("Mon-Fri 09:00-18:00")


@pytest.fixture
def sip() -> Iterator[FakeSipStatus]:
    fake = FakeSipStatus().start()
    yield fake
    fake.stop()


def kyiv(*args: int) -> datetime:
    return datetime(*args, tzinfo=KYIV)  # type: ignore[misc]


def _office(make_app: Callable[..., Flask], fake: FakeProvider, **hours: Any) -> Flask:
    settings = HoursSettings(week=WEEKDAYS, slot_capacity=2, schedule_days=7, **hours)
    return make_app(
        provider="ringostat",
        ringostat={"api_url": fake.url},
        hours=settings,
        dedupe_window=0,
        limit_per_ip="1000/minute",
        limit_per_phone="1000/minute",
    )


def _post(app: Flask, phone: str, **fields: Any) -> dict[str, Any]:
    response = app.test_client().post(URL, json={"phone": phone, **fields})
    body: dict[str, Any] = response.get_json()
    body["http_status"] = response.status_code
    return body


def _status(app: Flask, lead_id: str) -> dict[str, Any]:
    body: dict[str, Any] = app.test_client().get(f"{URL}/{lead_id}").get_json()
    return body


def _dispatch_all(app: Flask) -> int:
    """Run every task due now; how many ran."""
    ran = 0
    while services(app).dispatcher.run_once():
        ran += 1
    return ran


def test_a_lead_at_23_40_is_scheduled_for_the_spread_opening_and_not_dialled_before(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    with time_machine.travel(kyiv(2026, 11, 30, 23, 40), tick=False) as clock:
        app = _office(make_app, fake_provider)
        leads = [_post(app, f"+38067111223{i}") for i in range(3)]
        assert [lead["http_status"] for lead in leads] == [202] * 3
        assert [lead["status"] for lead in leads] == ["scheduled"] * 3
        # Capacity 2 a slot: the opening is not a burst of calls.
        due = [datetime.fromisoformat(lead["scheduled_for"]) for lead in leads]
        assert due == [kyiv(2026, 12, 1, 9, 0)] * 2 + [kyiv(2026, 12, 1, 9, 15)]
        assert all(lead["scheduled_for"].endswith("+00:00") for lead in leads)  # with an offset
        assert _status(app, leads[2]["id"])["scheduled_for"] == leads[2]["scheduled_for"]
        assert _status(app, leads[2]["id"])["status"] == "scheduled"

        clock.move_to(kyiv(2026, 12, 1, 8, 59, 59))
        assert _dispatch_all(app) == 0
        assert fake_provider.received == []

        # 09:00: the first slot's two, not the third (CALLGATE_MAX_AGE counts from 09:00).
        clock.move_to(kyiv(2026, 12, 1, 9, 0))
        assert _dispatch_all(app) == 2
        assert len(fake_provider.received) == 2
        assert [_status(app, lead["id"])["status"] for lead in leads] == [
            "placed",
            "placed",
            "scheduled",
        ]
        clock.move_to(kyiv(2026, 12, 1, 9, 15))
        assert _dispatch_all(app) == 1
        assert _status(app, leads[2]["id"])["status"] == "placed"


def test_a_chosen_time_is_booked_into_its_slot_until_the_slot_is_full(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    with time_machine.travel(kyiv(2026, 11, 30, 9, 10), tick=False) as clock:
        app = _office(make_app, fake_provider)
        ten = "2026-11-30T10:00:00+02:00"
        first = _post(app, "+380671112230", call_at=ten)
        assert first["http_status"] == 202 and first["status"] == "scheduled"
        assert datetime.fromisoformat(first["scheduled_for"]) == kyiv(2026, 11, 30, 10, 0)
        slots = app.test_client().get("/api/v1/slots").get_json()["slots"]
        assert {"start": ten, "remaining": 1} in slots
        assert _post(app, "+380671112231", call_at=ten)["http_status"] == 202
        refused = _post(app, "+380671112232", call_at=ten)
        assert refused["http_status"] == 422
        assert refused["error_codes"] == {"call_at": "call_at_full"}
        assert ten not in [
            slot["start"] for slot in app.test_client().get("/api/v1/slots").json["slots"]
        ]
        # The office is open, yet nothing is dialled before the chosen time.
        assert _dispatch_all(app) == 0
        clock.move_to(kyiv(2026, 11, 30, 10, 0))
        assert _dispatch_all(app) == 2
        assert _status(app, first["id"])["status"] == "placed"


def test_the_current_slot_chosen_is_called_now(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    with time_machine.travel(kyiv(2026, 11, 30, 9, 10), tick=False):
        app = _office(make_app, fake_provider)
        lead = _post(app, "+380671112230", call_at="2026-11-30T09:00:00+02:00")
        assert lead["http_status"] == 202 and lead["status"] == "queued"
        assert _dispatch_all(app) == 1
        assert _status(app, lead["id"])["status"] == "placed"


def test_a_lead_waiting_while_the_hours_change_moves_and_is_never_dialled(
    make_app: Callable[..., Flask], fake_provider: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    with time_machine.travel(kyiv(2026, 11, 30, 23, 40), tick=False) as clock:
        before = _office(make_app, fake_provider)
        lead = _post(before, "+380671112233")
        assert datetime.fromisoformat(lead["scheduled_for"]) == kyiv(2026, 12, 1, 9, 0)
        # Restarted overnight with Tuesday a holiday, and Wednesday opening at ten.
        after = _office(
            make_app,
            fake_provider,
            holidays=parse_holidays("2026-12-01"),
            special=parse_special_hours("2026-12-02 10:00-12:00"),
        )
        clock.move_to(kyiv(2026, 12, 1, 9, 0))
        dispatch_log = logging.getLogger("callgate.dispatch")
        dispatch_log.addHandler(caplog.handler)  # the app's logging does not propagate
        try:
            assert _dispatch_all(after) == 1
        finally:
            dispatch_log.removeHandler(caplog.handler)
        assert fake_provider.received == []
        body = _status(after, lead["id"])
        assert body["status"] == "scheduled"
        assert datetime.fromisoformat(body["scheduled_for"]) == kyiv(2026, 12, 2, 10, 0)
        assert "office is closed at its call time; booked for 2026-12-02T10:00:00+02:00" in (
            caplog.text
        )
        clock.move_to(kyiv(2026, 12, 2, 9, 0))  # the old hours would open now
        assert _dispatch_all(after) == 0
        clock.move_to(kyiv(2026, 12, 2, 10, 0))
        assert _dispatch_all(after) == 1
        assert _status(after, lead["id"])["status"] == "placed"
        assert len(fake_provider.received) == 1


def test_a_queued_call_that_outlives_the_day_waits_for_the_next_opening(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    with time_machine.travel(kyiv(2026, 11, 30, 17, 59), tick=False) as clock:
        app = _office(make_app, fake_provider)
        lead = _post(app, "+380671112233")
        assert lead["status"] == "queued"
        clock.move_to(kyiv(2026, 11, 30, 18, 0, 5))  # no worker took it before closing
        assert _dispatch_all(app) == 1
        assert fake_provider.received == []
        body = _status(app, lead["id"])
        assert body["status"] == "scheduled"
        assert datetime.fromisoformat(body["scheduled_for"]) == kyiv(2026, 12, 1, 9, 0)


def test_calls_that_outlive_the_day_together_are_spread_over_the_slots_with_room(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    with time_machine.travel(kyiv(2026, 11, 30, 17, 59), tick=False) as clock:
        app = _office(make_app, fake_provider)  # two calls a slot
        leads = [_post(app, f"+38067111220{i}") for i in range(5)]
        assert {lead["status"] for lead in leads} == {"queued"}
        clock.move_to(kyiv(2026, 11, 30, 18, 0, 5))  # no worker took them before closing
        store, dispatcher = services(app).store, services(app).dispatcher
        claimed = store.tasks.claim(timedelta(seconds=30), limit=5)
        assert len(claimed) == 5
        # The claim loop runs a batch's tasks side by side: so does this test.
        together = threading.Barrier(len(claimed))

        def run(task: ClaimedTask) -> None:
            together.wait()
            dispatcher.runner.run(task)

        threads = [threading.Thread(target=run, args=(task,)) for task in claimed]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        due = sorted(datetime.fromisoformat(_status(app, x["id"])["scheduled_for"]) for x in leads)
        assert due == [kyiv(2026, 12, 1, 9, 0)] * 2 + [kyiv(2026, 12, 1, 9, 15)] * 2 + [
            kyiv(2026, 12, 1, 9, 30)
        ]
        assert fake_provider.received == []


@pytest.mark.parametrize(
    ("posted", "due", "outcome"),
    [
        # Booked for 09:00 overnight, the office open when it falls due.
        (kyiv(2026, 11, 30, 23, 40), kyiv(2026, 12, 1, 9, 0), "placed"),
        # Queued a minute before closing, due when it has closed.
        (kyiv(2026, 11, 30, 17, 59), kyiv(2026, 11, 30, 18, 0, 5), "scheduled"),
    ],
)
def test_a_holder_whose_lease_ran_out_moves_nothing_and_the_call_is_not_lost(
    make_app: Callable[..., Flask],
    fake_provider: FakeProvider,
    posted: datetime,
    due: datetime,
    outcome: str,
) -> None:
    with time_machine.travel(posted, tick=False) as clock:
        app = _office(make_app, fake_provider)
        lead = _post(app, "+380671112233")
        clock.move_to(due)
        store, dispatcher = services(app).store, services(app).dispatcher
        [stalled] = store.tasks.claim(timedelta(seconds=-1))  # its lease ran out at once
        assert store.tasks.requeue_expired() == 1
        [holder] = store.tasks.claim(timedelta(seconds=30))  # another worker's, lead read now
        dispatcher.runner.run(stalled)  # the stalled thread wakes up and goes on
        dispatcher.runner.run(holder)
        assert _status(app, lead["id"])["status"] == outcome
        calls = [t for t in store.tasks.of_lead(lead["id"]) if t.kind == "place_call"]
        if outcome == "placed":
            assert len(fake_provider.received) == 1
        else:  # booked for the opening: a call still to be placed
            assert fake_provider.received == []
            assert [(t.state, t.due_at) for t in calls if t.state == "pending"] == [
                ("pending", kyiv(2026, 12, 1, 9, 0))
            ]


@pytest.mark.parametrize(
    ("late_minutes", "outcome"), [(59, LeadStatus.PLACED), (61, LeadStatus.FAILED)]
)
def test_max_age_counts_from_when_the_call_was_due_not_from_the_request(
    make_app: Callable[..., Flask],
    fake_provider: FakeProvider,
    late_minutes: int,
    outcome: LeadStatus,
) -> None:
    with time_machine.travel(kyiv(2026, 11, 30, 23, 40), tick=False) as clock:
        app = _office(make_app, fake_provider)
        assert services(app).settings.max_age == 3600
        lead = _post(app, "+380671112233")
        # 00:40: an hour after the request, long before the call is due.
        clock.move_to(kyiv(2026, 12, 1, 0, 40, 1))
        assert _dispatch_all(app) == 0
        # The worker was down at 09:00 and comes back this late.
        clock.move_to(kyiv(2026, 12, 1, 9, 0) + timedelta(minutes=late_minutes))
        assert _dispatch_all(app) == 1
        found = services(app).store.get(lead["id"])
        assert found is not None and found.status == outcome


@pytest.mark.parametrize(
    ("saturday", "opening_utc", "an_hour_early_utc"),
    [
        # Spring forward in the night to Sunday 29 March 2026: Monday opens at 09:00 +03:00.
        (kyiv(2026, 3, 28, 23, 40), datetime(2026, 3, 30, 6, tzinfo=UTC), 5),
        # Fall back in the night to Sunday 25 October 2026: Monday opens at 09:00 +02:00.
        (kyiv(2026, 10, 24, 23, 40), datetime(2026, 10, 26, 7, tzinfo=UTC), 6),
    ],
)
def test_a_lead_scheduled_across_a_daylight_saving_change_is_called_at_local_opening(
    make_app: Callable[..., Flask],
    fake_provider: FakeProvider,
    saturday: datetime,
    opening_utc: datetime,
    an_hour_early_utc: int,
) -> None:
    with time_machine.travel(saturday, tick=False) as clock:
        app = _office(make_app, fake_provider)
        lead = _post(app, "+380671112233")
        assert datetime.fromisoformat(lead["scheduled_for"]) == opening_utc
        # 09:00 by the offset of Saturday is no opening on Monday.
        clock.move_to(opening_utc.replace(hour=an_hour_early_utc, minute=59, second=59))
        assert _dispatch_all(app) == 0
        clock.move_to(opening_utc)
        assert _dispatch_all(app) == 1
        assert len(fake_provider.received) == 1
        assert _status(app, lead["id"])["status"] == "placed"


def test_operators_list_scheduled_leads(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    with time_machine.travel(kyiv(2026, 11, 30, 23, 40), tick=False):
        app = _office(make_app, fake_provider)
        lead = _post(app, "+380671112233")
        url = services(app).settings.database_url
        result = CliRunner().invoke(
            main, ["leads", "list", "--status", "scheduled"], env={"CALLGATE_DATABASE_URL": url}
        )
    assert result.exit_code == 0, result.output
    [line] = result.output.splitlines()
    assert line.startswith(lead["id"]) and "scheduled   due 2026-12-01 07:00Z" in line
    assert "+380671112233" not in result.output  # masked


def test_require_agent_online_still_applies_when_a_scheduled_call_falls_due(
    make_app: Callable[..., Flask], sip: FakeSipStatus
) -> None:
    sip.agents(online=[])
    with time_machine.travel(kyiv(2026, 11, 30, 23, 40), tick=False) as clock:
        app = make_app(
            provider="ringostat",
            ringostat={"api_url": sip.url},
            agents=AgentSettings(require_online=True, recheck_cap=0.05),
            hours=HoursSettings(week=WEEKDAYS),
        )
        lead = _post(app, "+380671112233")
        assert lead["status"] == "scheduled"
        clock.move_to(kyiv(2026, 12, 1, 9, 0))
        assert _dispatch_all(app) == 1
        assert _status(app, lead["id"])["status"] == "waiting_for_agent"
        assert sip.callbacks() == []
        # An agent comes online 50 minutes after the opening, ten hours after the request:
        # the call is still within CALLGATE_MAX_AGE of when it was due.
        sip.agents(online=["manager_1"])
        monitor = services(app).dispatcher.agents
        assert monitor is not None
        monitor.refresh(fresh_for=0)
        clock.move_to(kyiv(2026, 12, 1, 9, 50))
        assert _dispatch_all(app) == 2  # the re-check, then the call
        assert _status(app, lead["id"])["status"] == "placed"
        assert len(sip.callbacks()) == 1
