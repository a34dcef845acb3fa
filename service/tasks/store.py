"""The queue's own reads and writes: enqueue, claim, finish, retry, reclaim.

A :class:`TaskStore` shares its lead store's engine, writers' lock and group commit (a task
often commits with a lead's change: :meth:`add`, :meth:`settle` and :meth:`drop_calls` run in
the caller's transaction; :meth:`write` is the group commit for a write of the queue's own). The
statements are :mod:`.queue`'s; the rules they keep are told there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ..database.batching import GroupWriter
from ..database.engine import rowcount
from ..leads.model import Lead, Task, utcnow
from . import queue
from .queue import ClaimedTask, NewTask

log = logging.getLogger("callgate.tasks")
T = TypeVar("T")

_NOTIFY = text(f"SELECT pg_notify('{queue.NOTIFY_CHANNEL}', '')")
# The rows of a claimed batch's leads, by id (LeadStore's read, with when each call is due).
LeadReader = Callable[[Connection, list[str]], dict[str, RowMapping]]


class TaskStore:
    def __init__(
        self,
        engine: Engine,
        writer: GroupWriter,
        transaction: Callable[[], AbstractContextManager[Connection]],
        read_leads: LeadReader,
    ) -> None:
        self.engine = engine
        self.is_postgres = engine.dialect.name == "postgresql"
        self._writer = writer
        self._transaction = transaction
        self._read_leads = read_leads
        self._reads = sessionmaker(engine, expire_on_commit=False)
        # In-process claim loops to wake when a task falls due now (other processes: NOTIFY
        # on PostgreSQL, their short poll on SQLite).
        self._listeners: list[Callable[[], None]] = []

    # -- falling due --------------------------------------------------------------------------

    def on_due(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` whenever this process enqueues a task that is due now."""
        self._listeners.append(wake)

    def wake(self) -> None:
        for wake in self._listeners:
            wake()

    def add(self, conn: Connection, tasks: Sequence[NewTask], now: datetime) -> bool:
        """Insert ``tasks`` in the caller's transaction; True if one is due now (and NOTIFY).
        The caller calls :meth:`wake` once that transaction is committed."""
        if not tasks:
            return False
        conn.execute(queue.ENQUEUE, [queue.task_row(task, now) for task in tasks])
        due_now = any(task.due_at is None or task.due_at <= now for task in tasks)
        if due_now and self.is_postgres:
            conn.execute(_NOTIFY)
        return due_now

    def enqueue(
        self,
        kind: str,
        lead_id: str | None,
        due_at: datetime | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        """Add a task of ``kind`` (due now unless ``due_at``). Within a status change, pass
        ``enqueue=`` to ``LeadStore.transition`` instead: the task then commits with it."""
        now = utcnow()
        task = NewTask(kind, lead_id, due_at, payload)
        if self._writer.run(lambda conn: self.add(conn, [task], now)):
            self.wake()

    def write(
        self, work: Callable[[Connection], T], *, isolated: bool = False, first: int = 0
    ) -> T:
        """Run ``work`` in the group commit (:mod:`service.database.batching`) and return its
        result once committed (see :mod:`.grouping`). ``isolated``: ``work`` may raise, and
        then only its own writes are rolled back (a savepoint), the exception reaching the
        caller. ``first``: see :meth:`GroupWriter.run
        <service.database.batching.GroupWriter.run>`."""
        return self._writer.run(work, isolated=isolated, first=first)

    # -- the holder's side --------------------------------------------------------------------

    def claim(self, lease: timedelta, limit: int = 1) -> list[ClaimedTask]:
        """Take up to ``limit`` due tasks for ``lease``; each is returned to one caller only."""
        now = utcnow()
        claim = queue.CLAIM_SKIP_LOCKED if self.is_postgres else queue.CLAIM
        params = {"now": now, "limit": limit, "new_lease": now + lease}
        # Unsynced: a claim lost in a power cut leaves its tasks due again, nothing done.
        rows = self._writer.run(lambda conn: conn.execute(claim, params).all(), durable=False)
        # The leads of a batch's calls in one read, after the commit: each handler would
        # otherwise read its own (a connection and a statement each). Read after the claim,
        # a lead is as fresh as a handler's own read would be; their writes are guarded.
        calls = {row.id: row.lead_id for row in rows if row.kind in queue.LEAD_KINDS}
        wanted = [lead_id for lead_id in calls.values() if lead_id]
        found: dict[str, RowMapping] = {}
        if wanted:
            try:
                with self.engine.connect() as conn:
                    found = self._read_leads(conn, wanted)
            except SQLAlchemyError:
                # The claim is committed: its tasks must still reach their handlers, which
                # then read their leads themselves (LeadStore.lead_of).
                log.warning("the leads of a claimed batch could not be read", exc_info=True)
        return [ClaimedTask(**row._mapping, lead=_built(found, calls.get(row.id))) for row in rows]

    def next_due(self) -> datetime | None:
        """When the earliest pending task falls due."""
        with self.engine.connect() as conn:
            found: datetime | None = conn.execute(queue.NEXT_DUE).scalar()
        return found

    def finish(
        self,
        task: ClaimedTask,
        *,
        error: str | None = None,
        gave_up: bool = False,
        enqueue: Sequence[NewTask] = (),
    ) -> bool:
        """Mark a held task done (or given up), and enqueue ``enqueue`` with it; False, and
        nothing written, if its lease was taken over."""
        state = queue.GAVE_UP if gave_up else queue.DONE
        params = {**queue.held(task), "new_state": state, "error": error, "now": utcnow()}
        return self._held_write(task, queue.FINISH, params, enqueue)

    def retry(self, task: ClaimedTask, due_at: datetime, *, error: str | None = None) -> bool:
        """Put a held task back in the queue for ``due_at``; False if its lease was taken over
        or it is in flight (an at-most-once task is never run again)."""
        params = {**queue.held(task), "new_due": due_at, "error": error, "now": utcnow()}
        return self._held_write(task, queue.RETRY, params)

    def settle(
        self,
        conn: Connection,
        task: ClaimedTask,
        now: datetime,
        *,
        in_flight: bool = False,
        again_at: datetime | None = None,
        error: str | None = None,
        keep: bool = False,
    ) -> None:
        """In the caller's transaction (a change to its lead): mark a held task in flight,
        due again at ``again_at``, kept (``keep``: its holder goes on with it), or else done
        (noting ``error``). Raises :class:`~.queue.LeaseLost` if its lease was taken over."""
        held = {**queue.held(task), "now": now, "error": error}
        if keep:
            done = conn.execute(queue.HOLD, held)
        elif in_flight:
            done = conn.execute(queue.IN_FLIGHT, held)
        elif again_at is not None:
            done = conn.execute(queue.AGAIN, {**held, "new_due": again_at})
        else:
            done = conn.execute(queue.FINISH, {**held, "new_state": queue.DONE})
        queue.still_held(done)

    def drop_calls(self, conn: Connection, lead_id: str, now: datetime, reason: str) -> None:
        """In the caller's transaction: a lead ended, its call's pending tasks go with it."""
        conn.execute(queue.DROP_CALL_TASKS, {"ended_lead": lead_id, "now": now, "error": reason})

    def _held_write(
        self,
        task: ClaimedTask,
        statement: Any,
        params: dict[str, Any],
        enqueue: Sequence[NewTask] = (),
    ) -> bool:
        def write(conn: Connection) -> tuple[bool, bool]:
            if rowcount(conn.execute(statement, params)) != 1:
                return False, False
            return True, self.add(conn, enqueue, params["now"])

        # Unsynced, as a task holder's moves (see LeadStore.transition): lost in a power cut,
        # the task runs again.
        written, due_now = self._writer.run(write, durable=False)
        if due_now:
            self.wake()
        return written

    # -- holders that died --------------------------------------------------------------------

    def requeue_expired(self) -> int:
        """Tasks whose holder died before acting outside: due again now. How many."""
        now = utcnow()
        with self._transaction() as conn:
            count = rowcount(conn.execute(queue.REQUEUE_EXPIRED, {"now": now}))
            if count and self.is_postgres:
                conn.execute(_NOTIFY)
        if count:
            log.warning("%d expired task lease(s) requeued", count)
            self.wake()
        return count

    def take_over_expired(self, lease: timedelta) -> list[ClaimedTask]:
        """Tasks whose holder died while acting outside, now held by the caller (a new fence)
        for their kind to settle; never run again."""
        now = utcnow()
        taken: list[ClaimedTask] = []
        with self._transaction() as conn:
            for row in conn.execute(queue.EXPIRED_IN_FLIGHT, {"now": now}).all():
                task = ClaimedTask(**row._mapping)
                params = {**queue.held(task), "now": now, "new_lease": now + lease}
                if rowcount(conn.execute(queue.TAKE_OVER, params)) == 1:
                    taken.append(ClaimedTask(**{**row._mapping, "fence": task.fence + 1}))
        return taken

    # -- operators ----------------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._reads() as session, session.begin():
            yield session

    def of_kind(
        self, kind: str, state: str | None = None, limit: int | None = None
    ) -> Sequence[Task]:
        """Tasks of one kind, newest first, optionally in one state."""
        with self._read() as s:
            query = select(Task).where(Task.kind == kind).order_by(Task.id.desc())
            if state:
                query = query.where(Task.state == state)
            if limit:
                query = query.limit(limit)
            return s.scalars(query).all()

    def get(self, task_id: int) -> Task | None:
        with self._read() as s:
            return s.get(Task, task_id)

    def of_lead(self, lead_id: str) -> Sequence[Task]:
        """A lead's tasks, oldest first."""
        with self._read() as s:
            return s.scalars(select(Task).where(Task.lead_id == lead_id).order_by(Task.id)).all()


def _built(found: Mapping[str, RowMapping], lead_id: str | None) -> Lead | None:
    """A lead of its own for each task (handlers change theirs), from a row read for many."""
    row = found.get(lead_id) if lead_id else None
    return None if row is None else Lead(**row)
