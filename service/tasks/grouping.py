"""Grouping of pending tasks of one kind (the alerts of a channel, see
:mod:`service.events.handlers`): a task takes over the others' payloads, or hands its own over.

Each is one transaction in the store's group commit, isolated: a task whose lease was taken
over writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, select, text, update

from ..database.engine import rowcount
from ..leads.model import utcnow
from . import queue
from .queue import ClaimedTask

if TYPE_CHECKING:
    from .store import TaskStore

_PENDING_OF_KIND = select(queue.TASKS.c.id, queue.TASKS.c.payload).where(
    queue.TASKS.c.kind == bindparam("kind"), queue.TASKS.c.state == queue.PENDING
)
# PostgreSQL: one grouping of a kind at a time, to the end of its transaction (SQLite
# serialises all writers anyway). Two hand-overs at once each saw no pending task to join,
# and both waited for the next minute; or both merged into the payload they had read, and
# one's alerts were lost (tests/integration/test_events_worker.py). A fixed number, the same
# in every process of every version (schema's is 4177001, admission's 4177002). Taken first
# in its batch, after the admission and bookings locks (ranks 1, 2 and 3): every batch takes
# them in one order and holds no row lock while it waits for any.
GROUPING_FIRST = 3
GROUPING_LOCK = 4177003
_SERIALISE = text(f"SELECT pg_advisory_xact_lock({GROUPING_LOCK}, hashtext(:kind))")


def gather(
    store: TaskStore,
    task: ClaimedTask,
    belongs: Callable[[Mapping[str, Any]], bool],
    merge: Callable[[list[Mapping[str, Any]]], dict[str, Any]],
) -> dict[str, Any] | None:
    """Take over every pending task of ``task``'s kind whose payload ``belongs``, in one
    transaction: each is marked done and ``task``'s payload becomes ``merge`` of the
    payloads, its own first (so nothing is lost if the holder dies next). Returns that
    payload; None if ``task``'s lease was taken over."""
    now = utcnow()

    def write(conn: Connection) -> dict[str, Any]:
        _one_at_a_time(store, conn, task.kind)
        pending = conn.execute(_PENDING_OF_KIND, {"kind": task.kind}).all()
        mine = [row.id for row in pending if row.payload and belongs(row.payload)]
        taken: list[Mapping[str, Any]] = []
        if mine:
            # Conditional: a task another worker claimed meanwhile stays its own.
            grouped = (
                update(queue.TASKS)
                .where(queue.TASKS.c.id.in_(mine), queue.TASKS.c.state == queue.PENDING)
                .values(state=queue.DONE, last_error=f"grouped into task {task.id}", updated_at=now)
                .returning(queue.TASKS.c.id, queue.TASKS.c.payload)
            )
            taken = [row.payload for row in sorted(conn.execute(grouped).all())]
        merged = merge([task.payload or {}, *taken])
        params = {**queue.held(task), "new_payload": merged}
        queue.still_held(conn.execute(queue.SET_PAYLOAD, params))
        return merged

    try:
        return store.write(write, isolated=True, first=GROUPING_FIRST)
    except queue.LeaseLost:
        return None


def hand_over(
    store: TaskStore,
    task: ClaimedTask,
    belongs: Callable[[Mapping[str, Any]], bool],
    merge: Callable[[list[Mapping[str, Any]]], dict[str, Any]],
    due_at: datetime,
) -> bool:
    """The inverse of :func:`gather` for a task that may not run yet: its payload joins
    the oldest pending task of its kind that ``belongs`` (``merge`` of that one's payload
    and its own) and it is done; with none pending, it waits for ``due_at`` itself (its
    attempt given back). One transaction; False if its lease was taken over."""
    now = utcnow()

    def write(conn: Connection) -> bool:
        _one_at_a_time(store, conn, task.kind)
        pending = conn.execute(_PENDING_OF_KIND, {"kind": task.kind}).all()
        others = sorted(row.id for row in pending if row.payload and belongs(row.payload))
        payloads = {row.id: row.payload for row in pending}
        for other in others:
            joined = (
                update(queue.TASKS)
                .where(queue.TASKS.c.id == other, queue.TASKS.c.state == queue.PENDING)
                .values(payload=merge([payloads[other], task.payload or {}]), updated_at=now)
            )
            if rowcount(conn.execute(joined)) == 1:
                done = {**queue.held(task), "new_state": queue.DONE, "now": now}
                done["error"] = f"grouped into task {other}"
                queue.still_held(conn.execute(queue.FINISH, done))
                return True
        params = {**queue.held(task), "new_due": due_at, "new_payload": task.payload}
        return rowcount(conn.execute(queue.POSTPONE, {**params, "now": now})) == 1

    try:
        return store.write(write, isolated=True, first=GROUPING_FIRST)
    except queue.LeaseLost:
        return False


def _one_at_a_time(store: TaskStore, conn: Connection, kind: str) -> None:
    if store.is_postgres:
        conn.execute(_SERIALISE, {"kind": kind})
