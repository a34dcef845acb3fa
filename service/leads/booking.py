"""Booking a call into a slot: what is booked, counted and added in one transaction.

A booked call is a pending ``place_call`` task due in its slot; nothing else records it. A slot
may take ``CALLGATE_SLOT_CAPACITY`` calls, so the count and the insert of the new task must not
interleave with another booking's, in this process or another:

* SQLite: every write transaction already holds the database's one write lock from its start
  (:mod:`service.database.locking`, ``BEGIN IMMEDIATE``): the count and the insert are
  serialised as they are;
* PostgreSQL: a booking first takes one transaction-level advisory lock, held until its commit,
  so the next booking counts after it. One lock for every slot, not one per slot: a lead that
  arrives while closed looks at several slots (the spread), and one lock cannot deadlock.
  Only bookings take it; a call placed now never waits for it.

The caller decides the slot with a :data:`~service.hours.Plan` (such as
:func:`~service.hours.booking_plan`): it is given the due times booked in a range, read inside
the transaction, and answers when the call is due (None: now) or raises
:class:`~service.hours.SlotFull`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, select, text

from ..hours import DueTimes
from ..tasks import queue

# "callgate" as a 64-bit key: one advisory lock for every booking of this database.
BOOKINGS_LOCK_KEY = int.from_bytes(b"callgate", "big") >> 1
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
# A booking's rank among the writes run first in a batch (see GroupWriter.run): after an
# admission's (which may book too), before the alerts' grouping.
BOOKING_FIRST = 2
DUE_TIMES = (
    select(queue.TASKS.c.due_at)
    .where(
        queue.TASKS.c.kind == queue.PLACE_CALL,
        queue.TASKS.c.state == queue.PENDING,
        queue.TASKS.c.due_at >= bindparam("start"),
        queue.TASKS.c.due_at < bindparam("end"),
    )
    .order_by(queue.TASKS.c.due_at)
)


def due_times(conn: Connection) -> DueTimes:
    """The booked due times, read on ``conn`` (inside the booking's transaction)."""

    def read(start: datetime, end: datetime) -> Sequence[datetime]:
        return conn.execute(DUE_TIMES, {"start": start, "end": end}).scalars().all()

    return read


def lock_bookings(conn: Connection, is_postgres: bool) -> None:
    """Take the bookings lock until ``conn``'s transaction ends (SQLite holds one already)."""
    if is_postgres:
        conn.execute(_LOCK, {"key": BOOKINGS_LOCK_KEY})
