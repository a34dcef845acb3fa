"""Office hours over HTTP, on a controlled clock: /api/v1/slots, call_at, widget-config."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from service.config import HoursSettings
from service.hours import CallAtProblem
from service.hours_syntax import parse_week
from tests.conftest import services

KYIV = ZoneInfo("Europe/Kyiv")
# Monday 30 November 2026, 09:10 in Kyiv (UTC+2).
MONDAY_9_10 = datetime(2026, 11, 30, 9, 10, tzinfo=KYIV)
WEEKDAYS = HoursSettings(week=parse_week("Mon-Fri 09:00-18:00"), slot_capacity=3, schedule_days=1)


@pytest.fixture
def office(make_app: Callable[..., Flask]) -> Flask:
    return make_app(hours=WEEKDAYS, limit_per_phone="1/hour")


@pytest.fixture
def monday() -> Iterator[None]:
    with time_machine.travel(MONDAY_9_10, tick=False):
        yield


@pytest.mark.usefixtures("monday")
def test_slots_are_listed_with_offsets_the_room_left_and_the_zone(office: Flask) -> None:
    response = office.test_client().get("/api/v1/slots")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["timezone"] == "Europe/Kyiv" and body["slot_minutes"] == 15
    slots = body["slots"]
    # From the next slot start today, through tomorrow (CALLGATE_SCHEDULE_DAYS=1).
    assert slots[0] == {"start": "2026-11-30T09:15:00+02:00", "remaining": 3}
    assert slots[-1]["start"] == "2026-12-01T17:45:00+02:00"
    assert len(slots) == 35 + 36


@pytest.mark.usefixtures("monday")
def test_slots_count_the_calls_booked_into_them(office: Flask) -> None:
    client = office.test_client()
    for i in range(3):  # 09:15: full (capacity 3)
        assert _post(client, "2026-11-30T09:15:00+02:00", f"+38067111220{i}")["http_status"] == 202
    assert _post(client, "2026-11-30T09:30:00+02:00", "+380671112210")["http_status"] == 202
    slots = client.get("/api/v1/slots").get_json()["slots"]
    assert slots[0] == {"start": "2026-11-30T09:30:00+02:00", "remaining": 2}
    assert slots[1] == {"start": "2026-11-30T09:45:00+02:00", "remaining": 3}


def _post(client: FlaskClient, call_at: object, phone: str = "+380671112233") -> dict[str, Any]:
    response = client.post("/api/v1/callbacks", json={"phone": phone, "call_at": call_at})
    body: dict[str, Any] = response.get_json()
    body["http_status"] = response.status_code
    return body


@pytest.mark.usefixtures("monday")
@pytest.mark.parametrize(
    ("call_at", "code"),
    [
        ("2026-11-30T09:10:00", CallAtProblem.INVALID),  # no offset
        ("next monday at ten", CallAtProblem.INVALID),
        (1764500000, CallAtProblem.INVALID),
        ("2026-11-30T10:05:00+02:00", CallAtProblem.INVALID),  # between slots
        ("2026-11-30T08:45:00+02:00", CallAtProblem.PAST),
        ("2026-11-30T19:00:00+02:00", CallAtProblem.CLOSED),
        ("2026-12-02T09:00:00+02:00", CallAtProblem.TOO_FAR),
        ("2026-11-30T09:45:00+02:00", CallAtProblem.FULL),
        # At the ends of what a datetime holds: no instant in UTC, or none a slot later.
        ("9999-12-31T23:59:59-01:00", CallAtProblem.TOO_FAR),
        ("9999-12-31T23:50:00+00:00", CallAtProblem.TOO_FAR),
        ("0001-01-01T00:00:00+01:00", CallAtProblem.PAST),
    ],
)
def test_a_call_at_that_cannot_be_booked_is_refused_naming_the_field(
    office: Flask, call_at: object, code: CallAtProblem
) -> None:
    client = office.test_client()
    for i in range(3):  # 09:45: full
        assert _post(client, "2026-11-30T09:45:00+02:00", f"+38067111220{i}")["http_status"] == 202
    body = _post(client, call_at)
    assert body["http_status"] == 422
    assert body["error_codes"] == {"call_at": code.value}
    assert list(body["errors"]) == ["call_at"]
    assert body["detail"].startswith("call_at: ")


@pytest.mark.usefixtures("monday")
@pytest.mark.parametrize(
    "call_at",
    [
        "2026-11-30T10:00:00+02:00",
        "2026-11-30T08:00:00Z",  # the same instant
        "2026-11-30T09:00:00+02:00",  # the current slot, until it ends
        None,  # as soon as possible
    ],
)
def test_a_bookable_call_at_is_accepted(office: Flask, call_at: str | None) -> None:
    body = _post(office.test_client(), call_at)
    assert body["http_status"] == 202, body


@pytest.mark.usefixtures("monday")
def test_a_repeat_of_a_booked_call_says_when_it_is_due(office: Flask) -> None:
    """The visitor's double click answers with the lead as the first answer did: scheduled,
    and for when."""
    client = office.test_client()
    first = _post(client, "2026-11-30T10:00:00+02:00")
    again = _post(client, "2026-11-30T10:00:00+02:00")
    assert (first["http_status"], again["http_status"]) == (202, 200)
    assert again["id"] == first["id"] and again["status"] == "scheduled"
    assert again["scheduled_for"] == first["scheduled_for"]
    assert datetime.fromisoformat(again["scheduled_for"]) == datetime(2026, 11, 30, 10, tzinfo=KYIV)


@pytest.mark.usefixtures("monday")
@pytest.mark.parametrize(
    "after",
    [
        # The original commits right after the retry looked its key up: the retry's own check
        # of the slot finds it full.
        "lead_aliases",
        # ... right after the retry's check of the slot: the store finds it full as it books.
        "FROM tasks",
    ],
)
def test_a_retry_racing_its_original_for_a_slots_last_seat_is_answered_as_the_original(
    make_app: Callable[..., Flask], after: str
) -> None:
    office = make_app(hours=WEEKDAYS, limit_per_phone="100/hour", dedupe_window=0)
    client = office.test_client()
    for i in range(2):  # two seats of three taken at 10:00
        assert _post(client, "2026-11-30T10:00:00+02:00", f"+38067111220{i}")["http_status"] == 202
    request = {"phone": "+380671112233", "call_at": "2026-11-30T10:00:00+02:00"}
    key = {"Idempotency-Key": "visitor-7f3a-booking-0001"}
    original: dict[str, Any] = {}

    def send_original() -> None:
        response = office.test_client().post("/api/v1/callbacks", json=request, headers=key)
        original.update(response.get_json(), http_status=response.status_code)

    def original_commits(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if after in statement and not original:
            original["sent"] = True
            # Another client's request, in a thread of its own (as a server would run it).
            thread = threading.Thread(target=send_original)
            thread.start()
            thread.join()

    engine = services(office).store.engine
    event.listen(engine, "after_cursor_execute", original_commits)
    try:
        retry = client.post("/api/v1/callbacks", json=request, headers=key)
    finally:
        event.remove(engine, "after_cursor_execute", original_commits)
    assert original["http_status"] == 202 and original["status"] == "scheduled"
    assert retry.status_code == 200, retry.get_json()
    assert retry.get_json()["id"] == original["id"]
    assert retry.get_json()["scheduled_for"] == original["scheduled_for"]


@pytest.mark.usefixtures("monday")
def test_a_refused_call_at_uses_up_no_attempt_at_the_number(office: Flask) -> None:
    client = office.test_client()
    assert _post(client, "2026-11-30T19:00:00+02:00")["http_status"] == 422
    assert _post(client, "2026-11-30T10:00:00+02:00")["http_status"] == 202


@pytest.mark.usefixtures("monday")
def test_a_form_post_names_a_malformed_call_at_too(office: Flask) -> None:
    response = office.test_client().post(
        "/api/v1/callbacks", data={"phone": "+380671112233", "call_at": "tomorrow"}
    )
    assert response.status_code == 422
    assert response.get_json()["error_codes"] == {"call_at": "call_at_invalid"}


def test_widget_config_says_when_the_office_opens(office: Flask) -> None:
    client = office.test_client()
    with time_machine.travel(datetime(2026, 12, 5, 12, 0, tzinfo=KYIV), tick=False):  # Saturday
        closed = client.get("/api/v1/widget-config").get_json()
    assert (closed["open_now"], closed["next_open"], closed["timezone"]) == (
        False,
        "2026-12-07T09:00:00+02:00",
        "Europe/Kyiv",
    )
    with time_machine.travel(MONDAY_9_10, tick=False):
        open_ = client.get("/api/v1/widget-config").get_json()
    assert (open_["open_now"], open_["next_open"]) == (True, "2026-12-01T09:00:00+02:00")


def test_openapi_documents_slots_call_at_and_its_codes(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    slots = spec["paths"]["/api/v1/slots"]["get"]["responses"]["200"]
    assert slots["content"]["application/json"]["schema"]["$ref"].endswith("/SlotsAnswer")
    schemas = spec["components"]["schemas"]
    assert schemas["CallbackRequest"]["properties"]["call_at"]["format"] == "date-time"
    refused = spec["paths"]["/api/v1/callbacks"]["post"]["responses"]["422"]["description"]
    assert all(problem.value in refused for problem in CallAtProblem)
    assert {"open_now", "next_open", "timezone"} <= set(schemas["WidgetConfig"]["required"])
