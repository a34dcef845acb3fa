"""Office hours over HTTP: ``GET /api/v1/slots``, the ``call_at`` check of a callback request,
and the office's state for ``widget-config`` (docs/office-hours.md).

A booked call is a pending ``place_call`` task due in its slot (:mod:`service.leads.booking`).
The slots list and the first ``call_at`` check read the bookings plainly (:func:`store_bookings`);
the lead is then stored with a :func:`~service.hours.booking_plan`, which decides its slot again
from the bookings read under the store's bookings lock: two visitors taking a slot's last seat
at once cannot both have it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify

from ..hours import (
    BookedCounts,
    BookingsBetween,
    CallAtProblem,
    OfficeHours,
    Slot,
    booked_in_slots,
)
from ..leads import LeadStore
from ..services import Services, services
from .problems import Problem, validation
from .schemas import SlotsAnswer

bp = Blueprint("slots", __name__)

_answer = SlotsAnswer()

MESSAGES = {
    CallAtProblem.INVALID: "Not the start of a slot; choose one from GET /api/v1/slots.",
    CallAtProblem.PAST: "That time has passed; choose a later one.",
    CallAtProblem.CLOSED: "The office is closed then; choose a time in office hours.",
    CallAtProblem.TOO_FAR: "That is further ahead than calls may be booked; see GET /api/v1/slots.",
    CallAtProblem.FULL: "That time is fully booked; choose another.",
}


def now() -> datetime:
    """The service's clock (UTC)."""
    return datetime.now(UTC)


def check_call_at(svc: Services, call_at: datetime | None, moment: datetime) -> datetime | None:
    """The slot ``call_at`` books (in the office zone), None without one; a 422 naming
    ``call_at`` with its problem code when it cannot be booked."""
    if call_at is None:
        return None
    hours = svc.hours
    booked = _booked(svc, moment)
    problem = hours.validate_call_at(call_at, moment, booked)
    if problem is not None:
        raise validation("call_at", MESSAGES[problem], problem.value)
    return hours.slot_at(call_at)


def full() -> Problem:
    """The 422 of a slot found full while the lead was being stored."""
    return validation("call_at", MESSAGES[CallAtProblem.FULL], CallAtProblem.FULL.value)


def store_bookings(store: LeadStore, hours: OfficeHours) -> BookingsBetween:
    """The calls booked per slot between two instants, counted from the store's tasks."""

    def bookings(start: datetime, end: datetime) -> BookedCounts:
        return booked_in_slots(store.booked_due_times(start, end), hours.slot)

    return bookings


def _booked(svc: Services, moment: datetime) -> BookedCounts:
    return store_bookings(svc.store, svc.hours)(moment, svc.hours.horizon(moment))


def open_slots(svc: Services, moment: datetime) -> list[Slot]:
    """The slots a visitor may book at ``moment``, with the room each has left."""
    return svc.hours.open_slots(moment, _booked(svc, moment))


def office_state(hours: OfficeHours, moment: datetime) -> dict[str, Any]:
    """``open_now``, ``next_open`` (ISO 8601 with the office's offset, or None), ``timezone``."""
    opening = hours.next_opening(moment)
    return {
        "open_now": hours.is_open(moment),
        "next_open": opening.isoformat() if opening else None,
        "timezone": hours.timezone,
    }


@bp.get("/api/v1/slots")
def slots() -> Response:
    """Slots a visitor may book now, with the calls each may still take."""
    svc = services()
    moment = now()
    hours = svc.hours
    body = _answer.dump(
        {
            "timezone": hours.timezone,
            "slot_minutes": hours.slot_minutes,
            "slots": open_slots(svc, moment),
        }
    )
    response = jsonify(body)
    # Capacity changes with every booking.
    response.headers["Cache-Control"] = "no-store"
    return response
