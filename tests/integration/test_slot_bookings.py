"""No overbooking: visitors who book the last seats of a slot at the same instant, through two
stores (as two processes would: their own connections, group writers and write locks), on
SQLite and on PostgreSQL. Exactly the slot's capacity get it; the others hear call_at_full.
Held leads that chose the slot, released by an operator meanwhile, are booked after it."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from service.config import HoursSettings
from service.database import migrate
from service.hours import OfficeHours, SlotFull, booking_plan, release_plan
from service.hours_syntax import parse_week
from service.leads import Lead, LeadStatus, LeadStore

KYIV = ZoneInfo("Europe/Kyiv")
CAPACITY = 3
VISITORS = 10
# A Saturday noon, years ahead: the office (weekdays) is closed, every slot is in the future.
SATURDAY = datetime(2030, 1, 5, 12, 0, tzinfo=KYIV)
MONDAY_9 = datetime(2030, 1, 7, 9, 0, tzinfo=KYIV)
HOURS = OfficeHours.from_settings(
    HoursSettings(week=parse_week("Mon-Fri 09:00-18:00"), slot_capacity=CAPACITY)
)


@pytest.fixture(params=["sqlite", "postgresql"])
def two_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[LeadStore]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/callgate.db"
    else:
        url = request.getfixturevalue("pg_database")
    stores = [LeadStore(url), LeadStore(url)]
    migrate(stores[0])
    yield stores
    for store in stores:
        store.close()


def _book_at_once(stores: list[LeadStore], slot: datetime | None) -> list[Lead | SlotFull]:
    """Each visitor inserts a lead through one of the stores, all released by one barrier."""
    barrier = threading.Barrier(VISITORS)
    results: list[Lead | SlotFull] = [SlotFull("not run")] * VISITORS

    def visitor(i: int) -> None:
        lead = Lead(phone=f"+38067111{i:04d}", status=LeadStatus.QUEUED)
        plan = booking_plan(HOURS, slot, SATURDAY)
        barrier.wait()
        try:
            results[i] = stores[i % 2].insert(lead, plan=plan)[0]
        except SlotFull as full:
            results[i] = full

    threads = [threading.Thread(target=visitor, args=(i,)) for i in range(VISITORS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def _booked(store: LeadStore) -> Counter[datetime]:
    dues = store.booked_due_times(SATURDAY, SATURDAY + timedelta(days=30))
    return Counter(due.astimezone(KYIV) for due in dues)


def test_the_last_seats_of_a_chosen_slot_go_to_capacity_visitors_only(
    two_stores: list[LeadStore],
) -> None:
    results = _book_at_once(two_stores, MONDAY_9)
    booked = [r for r in results if isinstance(r, Lead)]
    assert len(booked) == CAPACITY
    assert sum(isinstance(r, SlotFull) for r in results) == VISITORS - CAPACITY
    assert all(lead.status == LeadStatus.SCHEDULED for lead in booked)
    assert _booked(two_stores[1]) == {MONDAY_9: CAPACITY}
    # Refused bookings left nothing behind.
    assert len(two_stores[0].search()) == CAPACITY


def test_leads_arriving_while_closed_are_spread_without_overbooking_a_slot(
    two_stores: list[LeadStore],
) -> None:
    results = _book_at_once(two_stores, None)
    assert all(isinstance(r, Lead) and r.status == LeadStatus.SCHEDULED for r in results)
    slot = timedelta(minutes=15)
    assert _booked(two_stores[0]) == {
        MONDAY_9: 3,
        MONDAY_9 + slot: 3,
        MONDAY_9 + 2 * slot: 3,
        MONDAY_9 + 3 * slot: 1,
    }


def test_held_leads_released_while_visitors_book_their_slot_do_not_overbook_it(
    two_stores: list[LeadStore],
) -> None:
    """Held leads that chose Monday 09:00 are released through one store while visitors book
    09:00 through the other: the slot holds its capacity and no more, the rest go later."""
    held = []
    for i in range(CAPACITY):
        lead = Lead(phone=f"+38067222{i:04d}", status=LeadStatus.HELD, call_at=MONDAY_9)
        held.append(two_stores[0].insert(lead)[0].id)
    released: list[str] = []
    barrier = threading.Barrier(2)

    def operator() -> None:
        barrier.wait()
        released.extend(two_stores[0].release_held(plan_for=release_plan(HOURS)))

    thread = threading.Thread(target=operator)
    thread.start()
    barrier.wait()
    visitors = 0
    for i in range(CAPACITY):
        lead = Lead(phone=f"+38067333{i:04d}", status=LeadStatus.QUEUED)
        try:
            two_stores[1].insert(lead, plan=booking_plan(HOURS, MONDAY_9, SATURDAY))
            visitors += 1
        except SlotFull:
            pass
    thread.join(30)
    assert sorted(released) == sorted(held)
    booked = _booked(two_stores[1])
    assert booked[MONDAY_9] == CAPACITY  # full, not more (there is room later)
    assert sum(booked.values()) == CAPACITY + visitors
    for lead_id in held:
        lead = two_stores[1].get(lead_id)
        assert lead is not None and lead.status == LeadStatus.SCHEDULED
