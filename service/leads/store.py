"""Durable storage of leads: SQLAlchemy on SQLite (embedded) or PostgreSQL.

One write path: the Core statements named below (and those of :mod:`service.tasks.queue`),
run in write transactions serialised as :mod:`service.database.locking` explains; the hot ones
(a new lead with its first task, "in flight", an outcome) commit in groups
(:mod:`service.database.batching`). The ORM only reads. The task queue's own reads and writes
(claim, finish, retry…) are ``LeadStore.tasks``, a :class:`~service.tasks.store.TaskStore` on
the same database and group commit.

Every status change is :meth:`LeadStore.transition`: checked against :mod:`.lifecycle`, one
conditional UPDATE, and in the same transaction the task that was being worked on is finished
(fenced, see :mod:`service.tasks.queue`), the tasks that follow are enqueued, and an attempt is
recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    and_,
    bindparam,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker, with_expression
from sqlalchemy.sql import ColumnElement

from .. import service_state
from ..addresses import DEFAULT_IPV6_PREFIX, address_key
from ..database.batching import GroupWriter
from ..database.engine import make_engine, rowcount, sqlite_file
from ..database.locking import WriteLock
from ..hours import Plan
from ..tasks import queue
from ..tasks.queue import ClaimedTask, NewTask, Outbox
from ..tasks.store import TaskStore
from . import admission, blocklist, booking
from .admission import ADMISSION_FIRST, ALIASES, Admission, NotARepeat, TooManyNumbers
from .blocklist import Blocklist
from .lifecycle import ENDED, INITIAL, LeadStatus, sources
from .model import (
    CONNECTED,
    FAILED,
    HELD,
    PLACED,
    QUEUED,
    SCHEDULED,
    Attempt,
    Lead,
    new_lead_id,
    utcnow,
)

log = logging.getLogger("callgate.leads")

LEADS: Table = Lead.__table__  # type: ignore[assignment]
ATTEMPTS: Table = Attempt.__table__  # type: ignore[assignment]

_INSERT = insert(LEADS)
_ADD_ATTEMPT = insert(ATTEMPTS)
_NEXT_CALL = (
    select(queue.TASKS.c.due_at)
    .where(
        queue.TASKS.c.lead_id == LEADS.c.id,
        queue.TASKS.c.state == queue.PENDING,
        queue.TASKS.c.kind == queue.PLACE_CALL,
    )
    .order_by(queue.TASKS.c.due_at)
    .limit(1)
    .scalar_subquery()
)
_LEAD = select(LEADS, _NEXT_CALL.label("scheduled_for"))
_BY_ID = _LEAD.where(LEADS.c.id == bindparam("lead_id"))
_BY_IDS = _LEAD.where(LEADS.c.id.in_(bindparam("lead_ids", expanding=True)))
# A key names a lead or an alias (a repeat from another client): one round trip for both.
_BY_KEY = (
    select(literal(False).label("alias"), LEADS.c.id, LEADS.c.phone)
    .where(LEADS.c.idempotency_key == bindparam("key"))
    .union_all(
        select(literal(True).label("alias"), ALIASES.c.id, LEADS.c.phone)
        .join(LEADS, LEADS.c.id == ALIASES.c.lead_id)
        .where(ALIASES.c.idempotency_key == bindparam("key"))
    )
)
_ALIAS_BY_ID = (
    select(ALIASES, LEADS.c.status.label("lead_status"), LEADS.c.placed_at.label("lead_placed_at"))
    .join(LEADS, LEADS.c.id == ALIASES.c.lead_id)
    .where(ALIASES.c.id == bindparam("alias_id"))
)
_STICKY_DESTINATION = (
    select(LEADS.c.destination)
    .where(
        LEADS.c.phone == bindparam("phone"),
        LEADS.c.created_at >= bindparam("since"),
        LEADS.c.placed_at >= bindparam("since"),
        # Two equalities, not IN: an expanding IN is re-rendered on every execution.
        or_(LEADS.c.status == PLACED, LEADS.c.status == CONNECTED),
        LEADS.c.destination.is_not(None),
    )
    .order_by(LEADS.c.created_at.desc())
    .limit(1)
)
# An operator may queue again a failed lead, or a placed one whose placement is unconfirmed,
# while it has its number (not anonymised by `callgate leads purge`).
RETRYABLE = and_(
    or_(LEADS.c.status == FAILED, LEADS.c.confirmed.is_(False)), LEADS.c.anonymised_at.is_(None)
)


class IdempotencyConflict(Exception):
    """The idempotency key was used before for another number."""


@lru_cache(maxsize=256)
def _lead_update(
    target: LeadStatus,
    source: tuple[LeadStatus, ...],
    columns: tuple[str, ...],
    increments: tuple[str, ...],
    guard: ColumnElement[bool] | None,
    fenced: bool,
) -> Any:
    """``UPDATE leads SET status = target, … WHERE id = :lead_id AND status IN (source)``
    (``fenced``: and the task's holder still holds it), built once per shape (building a
    statement costs more than running it on SQLite)."""
    # One source is an equality: an expanding IN is re-rendered on every execution.
    status = LEADS.c.status == source[0] if len(source) == 1 else LEADS.c.status.in_(source)
    statement = update(LEADS).where(LEADS.c.id == bindparam("lead_id"), status)
    if guard is not None:
        statement = statement.where(guard)
    if fenced:
        statement = statement.where(queue.HELD_BY)
    values: dict[str, Any] = {"status": target, "updated_at": bindparam("now")}
    values.update({name: bindparam(f"v_{name}") for name in columns})
    values.update({name: LEADS.c[name] + 1 for name in increments})
    return statement.values(**values)


@lru_cache(maxsize=16)
def _lead_note(columns: tuple[str, ...]) -> Any:
    """``UPDATE leads SET … WHERE id = :lead_id AND status = :in_status`` and a task's holder
    still holds it, built once per shape (see :meth:`LeadStore.note`)."""
    values: dict[str, Any] = {name: bindparam(f"v_{name}") for name in columns}
    return (
        update(LEADS)
        .where(
            LEADS.c.id == bindparam("lead_id"),
            LEADS.c.status == bindparam("in_status"),
            queue.HELD_BY,
        )
        .values(**values)
    )


class LeadStore:
    def __init__(
        self,
        database_url: str,
        blocklist_refresh: float = blocklist.REFRESH,
        outbox: Outbox | None = None,
        ipv6_prefix: int = DEFAULT_IPV6_PREFIX,
    ) -> None:
        self.url = database_url
        # How an IPv6 client is keyed by the per-address cap (CALLGATE_IPV6_PREFIX).
        self.ipv6_prefix = ipv6_prefix
        # What status changes send out (service.events.hook); None: nothing configured.
        self.outbox = outbox
        self.engine = make_engine(database_url)
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self.database_file = sqlite_file(self.engine.url)  # SQLite's, None otherwise
        self._reads = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite: a transaction that reads and then writes must hold the write lock from its
        # start (BEGIN IMMEDIATE), or it fails at once, without waiting, whenever another
        # connection wrote since its read. Reads keep a plain BEGIN and never block.
        self._write_engine = self.engine.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        # SQLite: writers queue on our own lock first (see .locking); PostgreSQL locks rows.
        self._write_lock: AbstractContextManager[Any] = (
            nullcontext() if self.is_postgres else WriteLock(self.database_file)
        )
        self._writer = GroupWriter(self._write_engine, self._write_lock)
        # Numbers nobody may ask us to call (operators' blocks), with this process's copy.
        self.blocklist = Blocklist(self.engine, self.transaction, blocklist_refresh)
        # The task queue, in the same database and the same group commit.
        self.tasks = TaskStore(self.engine, self._writer, self.transaction, _leads_by_id)
        # Facts every process must see: the provider's fault, paced slots, the budget alert.
        self.state = service_state.ServiceState(
            self.engine, self._writer, self.transaction, self.tasks, lambda: self.outbox
        )

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction outside the group commit (operators' writes)."""
        with self._write_lock, self._write_engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._reads() as session, session.begin():
            yield session

    def close(self) -> None:
        self._writer.close()
        if isinstance(self._write_lock, WriteLock):
            self._write_lock.close()
        self.engine.dispose()

    # -- the visitor's side -------------------------------------------------------------------

    def find_existing(
        self, *, phone: str, idempotency_key: str | None, window: timedelta
    ) -> Lead | None:
        """The lead this request repeats: same idempotency key (the lead, or the alias the
        key's client was answered with), else same number recently (operators only: visitors'
        repeats are decided by :meth:`insert`)."""
        if not idempotency_key and window.total_seconds() <= 0:
            return None  # nothing to look for: no connection either
        with self.engine.connect() as conn:
            if idempotency_key:
                row = conn.execute(_BY_KEY, {"key": idempotency_key}).first()
                if row is not None:
                    if row.phone != phone:
                        raise IdempotencyConflict(idempotency_key)
                    return self._alias(conn, row.id) if row.alias else self._lead(conn, row.id)
            if window.total_seconds() <= 0:
                return None
            since = utcnow() - window
            found = conn.execute(admission.RECENT, {"phone": phone, "since": since}).first()
            return None if found is None else Lead(**found._mapping)

    def insert(
        self, lead: Lead, rules: Admission | None = None, *, plan: Plan | None = None
    ) -> tuple[Lead, bool]:
        """Store a new lead (queued unless held or scheduled) and its first task, in one
        transaction, and return it (``lead`` itself); on a key raced by a twin request,
        return the twin's lead. Its ``client_key`` is set here, from ``client_ip``
        (:meth:`client_key`).

        With ``rules``, the same transaction first decides the lead's admission
        (:mod:`.admission`): :class:`TooManyNumbers` past the per-address cap; a repeat of an
        open lead is not stored but answered by that lead (its own client: ``created`` False)
        or by an alias (another client: a new id, ``created`` True, as a fresh lead would be);
        over the daily budget the lead is stored held.

        ``plan`` books the call (see :mod:`.booking`): it decides, from the bookings read in
        this transaction under the bookings lock, when the call is due; a lead due later is
        stored ``scheduled`` with its ``place_call`` task due then (``lead.scheduled_for``).
        It may raise :class:`~service.hours.SlotFull`: then nothing is stored. Not for held leads.
        """
        now = utcnow()
        lead.id = lead.id or new_lead_id()
        lead.created_at = lead.updated_at = now
        lead.status = LeadStatus(lead.status) if lead.status in INITIAL else QUEUED
        lead.attempt_count, lead.confirmed = 0, True
        lead.client_key = self.client_key(lead.attribution.client_ip)
        checked = rules if rules is not None and rules.active else None
        # Built before the write lock is taken. Unset columns are left out: their defaults apply.
        values = {
            column.key: value
            for column in LEADS.columns
            if (value := getattr(lead, column.key)) is not None
        }

        def write(
            conn: Connection,
        ) -> tuple[admission.Verdict | None, bool, LeadStatus, datetime | None]:
            verdict = None
            if checked is not None:
                verdict = admission.decide(conn, lead, checked, now, self.is_postgres)
            if verdict is not None and (
                verdict.capped or verdict.not_a_repeat or verdict.answer is not None
            ):
                return verdict, False, LeadStatus(lead.status), None
            status = HELD if verdict is not None and verdict.hold else LeadStatus(lead.status)
            due = None
            if plan is not None and status == QUEUED:
                booking.lock_bookings(conn, self.is_postgres)
                due = plan(booking.due_times(conn))
                if due is not None and due > now:
                    status = SCHEDULED
            first = []
            if due is not None:
                first = [queue.call_due(lead.id, due)]
            elif status == QUEUED:
                first = [NewTask(queue.PLACE_CALL, lead.id)]
            conn.execute(_INSERT, {**values, "status": status})
            # Events out only when something listens for this status (no extra work otherwise).
            outbox = self.outbox if self.outbox and self.outbox.emits(status, True) else None
            row = None
            if outbox is not None:
                row = {column.key: getattr(lead, column.key) for column in LEADS.columns}
                row.update(status=status, scheduled_for=due if status == SCHEDULED else None)
            tasks = [*first, *queue.follow_up(lead.id, (), status, lead=row, outbox=outbox)]
            alerts = self.state.budget_alert(conn, now) if status == HELD else []
            return verdict, self.tasks.add(conn, [*tasks, *alerts], now), status, due

        try:
            # A key can collide (a twin request racing this one), a booking find its slot
            # full: isolate those. Admissions, then bookings, go first in their batch: on
            # PostgreSQL their locks are then taken before the batch holds any row lock, in
            # one order (see .admission, .booking).
            verdict, due_now, status, due = self._writer.run(
                write,
                isolated=bool(lead.idempotency_key) or plan is not None,
                first=(
                    ADMISSION_FIRST
                    if checked is not None
                    else booking.BOOKING_FIRST
                    if plan is not None
                    else 0
                ),
            )
        except IntegrityError:
            if not lead.idempotency_key:
                raise
            twin = self.find_existing(
                phone=lead.phone, idempotency_key=lead.idempotency_key, window=timedelta(0)
            )
            if twin is None:
                raise
            return twin, False
        if verdict is not None:
            if verdict.capped:
                raise TooManyNumbers(rules.max_numbers_per_ip if rules else 0)
            if verdict.not_a_repeat:
                raise NotARepeat(lead.phone)
            if verdict.answer is not None:
                return verdict.answer, verdict.created
        lead.status = status
        if status == SCHEDULED and due is not None:
            lead.scheduled_for = due.astimezone(UTC)  # as read back from the task
        if due_now:
            self.tasks.wake()
        return lead, True

    def booked_due_times(self, start: datetime, end: datetime) -> Sequence[datetime]:
        """Due times of the calls booked in ``[start, end)`` (a plain read, for the slots
        list; a booking reads them again under its lock)."""
        with self.engine.connect() as conn:
            return booking.due_times(conn)(start, end)

    def has_open_lead(self, phone: str, window: timedelta) -> bool:
        """A read, without the lock: is there an open lead for ``phone`` within ``window``
        (so that a request for it is a repeat)? :meth:`insert` decides."""
        if window <= timedelta(0):
            return False
        since = utcnow() - window
        with self.engine.connect() as conn:
            return (
                conn.execute(admission.RECENT, {"phone": phone, "since": since}).first() is not None
            )

    def get_for_visitor(self, some_id: str) -> Lead | None:
        """What ``GET /api/v1/callbacks/<id>`` shows: a lead, or an alias's view of its lead."""
        with self.engine.connect() as conn:
            return self._lead(conn, some_id) or self._alias(conn, some_id)

    @staticmethod
    def _lead(conn: Connection, lead_id: str) -> Lead | None:
        row = conn.execute(_BY_ID, {"lead_id": lead_id}).first()
        return None if row is None else Lead(**row._mapping)

    @staticmethod
    def _alias(conn: Connection, alias_id: str) -> Lead | None:
        row = conn.execute(_ALIAS_BY_ID, {"alias_id": alias_id}).first()
        if row is None:
            return None
        lead = Lead(status=row.lead_status, placed_at=row.lead_placed_at)
        return admission.alias_view(row, lead)

    def get(self, lead_id: str, with_attempts: bool = False) -> Lead | None:
        """One lead; with its attempts, for operators (the ORM reads those best)."""
        if not with_attempts:
            # A prebuilt statement: this runs for every call placed and every status poll.
            with self.engine.connect() as conn:
                return self._lead(conn, lead_id)
        with self._read() as s:
            query = select(Lead).where(Lead.id == lead_id).options(selectinload(Lead.attempts))
            return s.scalar(query)

    # -- the lifecycle ------------------------------------------------------------------------

    def transition(
        self,
        lead_id: str,
        target: LeadStatus,
        *,
        expect_from: Sequence[LeadStatus] = (),
        guard: ColumnElement[bool] | None = None,
        values: Mapping[str, Any] | None = None,
        increment: Sequence[str] = (),
        task: ClaimedTask | None = None,
        in_flight: bool = False,
        keep_task: bool = False,
        task_again_at: datetime | None = None,
        attempt: Mapping[str, Any] | None = None,
        enqueue: Sequence[NewTask] = (),
        book: Plan | None = None,
        provider_ok: bool = False,
    ) -> bool:
        """Move a lead to ``target``; False, and nothing written, when it is in none of the
        statuses it may move from (``expect_from``, else any the table allows) or ``task``'s
        lease was taken over. Raises :class:`~.lifecycle.IllegalTransition` for a move the
        table does not allow.

        In the same transaction: ``task`` (the one being worked on) is marked in flight
        (``in_flight``), due again at ``task_again_at``, kept (``keep_task``: the move is only
        fenced by it, and its holder goes on), or else done; ``attempt`` is recorded; ``enqueue``
        and the lifecycle's :func:`~service.tasks.queue.follow_up` tasks are added; ``book``
        books the lead's call (as :meth:`insert` does, under the bookings lock);
        ``provider_ok`` clears a provider configuration fault. ``values`` sets other columns,
        ``increment`` adds one to some, ``guard`` narrows the rows further.
        """
        assert not (keep_task and (in_flight or task_again_at)), "a kept task is only kept"
        source = sources(target, tuple(LeadStatus(s) for s in expect_from))
        values = dict(values or {})
        statement = _lead_update(
            target, source, tuple(sorted(values)), tuple(sorted(increment)), guard, bool(task)
        )
        now = utcnow()
        params = {"lead_id": lead_id, "now": now, **{f"v_{k}": v for k, v in values.items()}}
        held = queue.held(task) if task else {}
        outbox = self.outbox if self.outbox and self.outbox.emits(target, False) else None
        clear_fault = provider_ok and self.state.fault_check_due()

        def write(conn: Connection) -> bool | None:
            if book is not None:  # as an insert does: the bookings lock before any row's
                booking.lock_bookings(conn, self.is_postgres)
            # The conditional write first (status, and the task's fence): refused, it has
            # written nothing, so the batch goes on without a savepoint (None: refused).
            if rowcount(conn.execute(statement, {**params, **held})) != 1:
                return None
            if task is not None:
                # Raises LeaseLost on PostgreSQL if a take-over committed between the two
                # statements (SQLite serialises writers): the savepoint undoes the lead's update.
                self.tasks.settle(
                    conn, task, now, in_flight=in_flight, again_at=task_again_at, keep=keep_task
                )
            if target in ENDED:
                self.tasks.drop_calls(conn, lead_id, now, f"the lead is {target}")
            if attempt is not None:
                conn.execute(_ADD_ATTEMPT, {"lead_id": lead_id, "started_at": now, **attempt})
            if clear_fault:
                self.state.clear_fault(conn)
            booked_now = book is not None and self._book(conn, lead_id, book, now)
            # The lead as the move left it, for the events it emits (only when there are any).
            found = conn.execute(_BY_ID, {"lead_id": lead_id}).first() if outbox else None
            row = None if found is None else dict(found._mapping)
            follow = queue.follow_up(lead_id, source, target, lead=row, outbox=outbox)
            return self.tasks.add(conn, [*enqueue, *follow], now) or booked_now

        # A task holder's move may wait for the next synced commit when a power cut that lost
        # it would cost only a repeat (the task runs again) or a placed call's confirmation
        # (its in-flight mark is settled as placed, unconfirmed). Synced: the in-flight mark
        # itself, a move that emits events (they may leave before the next sync), and a
        # call's failure or retry (never to be settled as placed).
        durable = (
            task is None
            or in_flight
            or outbox is not None
            or (LeadStatus.DISPATCHING in source and target != PLACED)
        )
        try:
            due_now = self._writer.run(
                write,
                isolated=self.is_postgres,
                durable=durable,
                first=booking.BOOKING_FIRST if book is not None else 0,
            )
        except queue.LeaseLost:
            return False
        if due_now is None:
            return False
        if clear_fault:  # counted from a clear that was written, not one refused
            self.state.fault_cleared()
        if due_now:
            self.tasks.wake()
        return True

    def note(
        self,
        task: ClaimedTask,
        status: LeadStatus,
        values: Mapping[str, Any],
        *,
        again_at: datetime | None = None,
        error: str | None = None,
    ) -> bool:
        """A task holder's word on its lead while the lead is in ``status`` (what the provider
        says of a placed call), written with the task done, or due again at ``again_at``: one
        transaction; False, and nothing written, if the lead has moved on (an operator
        cancelled it meanwhile) or the task's lease was taken over."""
        assert "status" not in values, "a status changes through transition()"
        statement = _lead_note(tuple(sorted(values)))
        now = utcnow()
        params = {"lead_id": task.lead_id, "in_status": status, **queue.held(task)}
        params.update({f"v_{name}": value for name, value in values.items()})

        def write(conn: Connection) -> bool:
            # Fenced and guarded, as a transition is: refused, it has written nothing.
            if rowcount(conn.execute(statement, params)) != 1:
                return False
            self.tasks.settle(conn, task, now, again_at=again_at, error=error)
            return True

        try:
            # Unsynced, as a holder's moves (see transition): lost, the task runs again.
            return self._writer.run(write, isolated=self.is_postgres, durable=False)
        except queue.LeaseLost:
            return False

    def retry(self, lead_id: str) -> bool:
        """Queue again, by an operator's decision, a failed lead or an unconfirmed placement.

        A confirmed placement is refused: the visitor was called. So is an anonymised lead:
        its number is masked."""
        return self.transition(
            lead_id,
            QUEUED,
            expect_from=(FAILED, PLACED),
            guard=RETRYABLE,
            values={"last_error": None, "confirmed": True, "placed_at": None},
            enqueue=[_called_now(lead_id)],
        )

    def release_held(
        self, lead_id: str | None = None, plan_for: Callable[[datetime], Plan] | None = None
    ) -> list[str]:
        """Let held leads (one, or all) go: an operator lifted the daily budget's hold.

        A lead whose visitor chose a time still ahead (``call_at``) is booked for it:
        ``plan_for(call_at)`` decides the slot, under the bookings lock. Any other is a call
        due now (the office hours still apply when it falls due). The ids released."""
        leads = [self.get(lead_id)] if lead_id else self.search(status=HELD)
        now = utcnow()
        released = []
        for lead in filter(None, leads):
            if plan_for is not None and lead.call_at is not None and lead.call_at > now:
                moved = self.transition(
                    lead.id, SCHEDULED, expect_from=(HELD,), book=plan_for(lead.call_at)
                )
            else:
                moved = self.transition(
                    lead.id, QUEUED, expect_from=(HELD,), enqueue=[_called_now(lead.id)]
                )
            if moved:
                released.append(lead.id)
        return released

    def _book(self, conn: Connection, lead_id: str, plan: Plan, now: datetime) -> bool:
        """Add the lead's ``place_call`` task where ``plan`` books it (due now when it says
        None), from the bookings read under their lock; whether it is due now."""
        due = plan(booking.due_times(conn)) or now
        return self.tasks.add(conn, [queue.call_due(lead_id, due)], now)

    # -- claimed tasks' leads -----------------------------------------------------------------

    def lead_of(self, task: ClaimedTask) -> Lead | None:
        """The lead of a claimed task: as read with its claim, else read now."""
        if task.lead is not None:
            return task.lead
        return None if task.lead_id is None else self.get(task.lead_id)

    # -- agents and routing -------------------------------------------------------------------

    def sticky_destination(self, phone: str, window: timedelta) -> str | None:
        """Where the newest callback to ``phone`` placed within ``window`` was sent (runs during
        a live call: a prebuilt statement on a plain connection)."""
        since = utcnow() - window
        with self.engine.connect() as conn:
            found: str | None = conn.execute(
                _STICKY_DESTINATION, {"phone": phone, "since": since}
            ).scalar()
            return found

    # -- operators ----------------------------------------------------------------------------

    def search(
        self, status: str | None = None, since: datetime | None = None, limit: int | None = None
    ) -> Sequence[Lead]:
        with self._read() as s:
            # With when each lead's call is due (scheduled_for), read from its task.
            query = (
                select(Lead)
                .options(with_expression(Lead.scheduled_for, _NEXT_CALL))
                .order_by(Lead.created_at.desc())
            )
            if status:
                query = query.where(Lead.status == status)
            if since:
                query = query.where(Lead.created_at >= since)
            if limit:
                query = query.limit(limit)
            return s.scalars(query).all()

    def count_by_status(self) -> dict[str, int]:
        with self._read() as s:
            rows = s.execute(select(Lead.status, func.count()).group_by(Lead.status)).all()
            return {status: count for status, count in rows}

    # -- abuse defences -----------------------------------------------------------------------

    def calls_since(self, since: datetime, up_to: int) -> int:
        """Leads since ``since`` that were or will be called (not held, failed or cancelled),
        counted up to ``up_to`` only, as the daily budget counts them (for the metrics: the
        budget itself is decided in the insert, see :mod:`.admission`)."""
        with self.engine.connect() as conn:
            return admission.calls_since(conn, since, up_to)

    def client_key(self, client_ip: str | None) -> str | None:
        """The client ``client_ip`` counts as for the per-address cap: the address, or its
        IPv6 network (``CALLGATE_IPV6_PREFIX`` bits), as the per-address rate limits key it."""
        return None if client_ip is None else address_key(client_ip, self.ipv6_prefix)

    def over_numbers_cap(self, client_ip: str, phone: str, cap: int) -> bool:
        """A read, without the lock: would ``phone`` be past the ``cap`` of distinct numbers
        this client (its address, or its IPv6 network) may ask for an hour? (:meth:`insert`
        decides; this spares the rate limits a request that will be refused.)"""
        with self.engine.connect() as conn:
            return admission.over_cap(conn, self.client_key(client_ip), phone, cap, utcnow())


def _called_now(lead_id: str) -> NewTask:
    """A call an operator asked for: due now, and CALLGATE_MAX_AGE counts from now, not from
    the request (a lead held overnight by the budget is not too old to call when released)."""
    return queue.call_due(lead_id, utcnow())


def _leads_by_id(conn: Connection, lead_ids: list[str]) -> dict[str, RowMapping]:
    """Leads' rows by id, with when each call is due (a claimed batch's: TaskStore.claim)."""
    return {row.id: row._mapping for row in conn.execute(_BY_IDS, {"lead_ids": lead_ids})}
