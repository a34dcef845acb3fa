"""The demo page's no-JS form: a server-rendered ``<select name="call_at">`` of open slots when
office hours are configured, whose "as soon as possible" option (empty) a form post may send."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine
from flask import Flask

from service.config import HoursSettings
from service.hours_syntax import parse_week
from service.leads import LeadStatus
from tests.conftest import services

KYIV = ZoneInfo("Europe/Kyiv")
MONDAY_9_10 = datetime(2026, 11, 30, 9, 10, tzinfo=KYIV)
WEEKDAYS = HoursSettings(week=parse_week("Mon-Fri 09:00-18:00"), slot_capacity=1, schedule_days=1)


def _form_post(app: Flask, **fields: str) -> str:
    """Post the form as a browser without JavaScript does; the new lead's id."""
    response = app.test_client().post(
        "/api/v1/callbacks",
        data={"phone": "+380671112233", **fields},
        headers={"Accept": "text/html"},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    found = re.search(r"callgate=([\w-]+)", response.headers["Location"])
    assert found is not None
    return found.group(1)


def test_the_form_offers_open_slots_with_as_soon_as_possible_first(
    make_app: Callable[..., Flask],
) -> None:
    with time_machine.travel(MONDAY_9_10, tick=False):
        app = make_app(hours=WEEKDAYS)
        page = app.test_client().get("/").get_data(as_text=True)
        options = re.findall(r'<option value="([^"]*)"', page)
        assert '<select id="call_at" name="call_at">' in page
        assert '<label for="call_at">' in page
        assert options[0] == ""  # as soon as possible
        assert options[1] == "2026-11-30T09:15:00+02:00"
        assert options[-1] == "2026-12-01T17:45:00+02:00"
        assert '<optgroup label="Monday 30 November">' in page
        assert len(options) == 1 + 35 + 36

        # A booked slot is full (capacity 1) and no longer offered.
        _form_post(app, call_at="2026-11-30T09:15:00+02:00")
        page = app.test_client().get("/").get_data(as_text=True)
        assert '"2026-11-30T09:15:00+02:00"' not in page


def test_the_chosen_slot_books_the_call_and_the_empty_choice_calls_now(
    make_app: Callable[..., Flask],
) -> None:
    with time_machine.travel(MONDAY_9_10, tick=False):
        app = make_app(hours=WEEKDAYS, limit_per_phone="100/hour", dedupe_window=0)
        store = services(app).store
        booked = store.get(_form_post(app, call_at="2026-11-30T10:00:00+02:00"))
        assert booked is not None and booked.status == LeadStatus.SCHEDULED
        assert booked.scheduled_for == datetime(2026, 11, 30, 10, 0, tzinfo=KYIV)
        now = store.get(_form_post(app, call_at=""))
        assert now is not None and now.status == LeadStatus.QUEUED


def test_an_empty_call_at_is_still_refused_in_json(make_app: Callable[..., Flask]) -> None:
    app = make_app(hours=WEEKDAYS)
    response = app.test_client().post(
        "/api/v1/callbacks", json={"phone": "+380671112233", "call_at": ""}
    )
    assert response.status_code == 422
    assert response.get_json()["error_codes"] == {"call_at": "call_at_invalid"}


def test_without_office_hours_the_form_has_no_time_choice(make_app: Callable[..., Flask]) -> None:
    page = make_app().test_client().get("/").get_data(as_text=True)
    assert 'name="call_at"' not in page
