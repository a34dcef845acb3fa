"""Durable storage of leads: SQLAlchemy on SQLite (embedded) or PostgreSQL (several instances).

Concurrency rules, the same on both backends:

* a lead is claimed by a conditional UPDATE (``status = 'queued'``) whose row count says who
  won; PostgreSQL first narrows the candidates with ``FOR UPDATE SKIP LOCKED`` so workers do
  not queue behind each other;
* a result is written only by the claim that holds the lead (``status = 'dispatching'`` and the
  same ``attempt_count``), so a worker whose lease was taken over cannot overwrite the outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker
from sqlalchemy.sql.dml import ReturningUpdate

from ..attribution import FIELDS as ATTRIBUTION_FIELDS
from ..attribution import PERSONAL as PERSONAL_FIELDS
from ..phone import mask
from .batching import GroupWriter
from .blocklist import BlocklistCache, in_force
from .doorbell import Doorbell
from .locking import WriteLock
from .model import (
    CONNECTED,
    DISPATCHING,
    FAILED,
    HELD,
    OPEN_STATUSES,
    PLACED,
    QUEUED,
    WAITING_FOR_AGENT,
    Attempt,
    BlockedNumber,
    Lead,
    new_lead_id,
    utcnow,
)

log = logging.getLogger("callgate.leads")

NOTIFY_CHANNEL = "callgate_leads"
# A block added by another process (the CLI) applies within this many seconds
# (CALLGATE_BLOCKLIST_REFRESH); a longer list than this is asked per number instead.
BLOCKLIST_REFRESH = 5.0
BLOCKLIST_COPY_LIMIT = 10_000
LEADS: Table = Lead.__table__  # type: ignore[assignment]
BLOCKED: Table = BlockedNumber.__table__  # type: ignore[assignment]

_STICKY_DESTINATION = (
    select(Lead.destination)
    .where(
        Lead.phone == bindparam("phone"),
        Lead.created_at >= bindparam("since"),
        Lead.placed_at >= bindparam("since"),
        # Two equalities, not IN: an expanding IN is re-rendered on every execution.
        or_(Lead.status == PLACED, Lead.status == CONNECTED),
        Lead.destination.is_not(None),
    )
    .order_by(Lead.created_at.desc())
    .limit(1)
)


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended, and what that makes of the lead."""

    status: str  # the lead's new status
    attempt_outcome: str  # placed | retry | failed | unknown
    duration_ms: int
    http_status: int | None = None
    error: str | None = None
    due_at: datetime | None = None
    provider_ref: str | None = None
    confirmed: bool = True
    detail: str | None = None


class IdempotencyConflict(Exception):
    """The idempotency key was used before for another number."""


class LeadStore:
    def __init__(self, database_url: str, blocklist_refresh: float = BLOCKLIST_REFRESH) -> None:
        self.url = database_url
        self.engine = make_engine(database_url)
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite: a transaction that reads and then writes must hold the write lock from its
        # start (BEGIN IMMEDIATE), or it fails at once, without waiting, whenever another
        # connection wrote since its read. Reads keep a plain BEGIN and never block.
        self._write_engine = self.engine.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)

        database = _sqlite_file(self.engine.url)  # None for PostgreSQL or in memory
        # SQLite: writers queue on our own lock first (see .locking); PostgreSQL locks rows.
        self._write_lock: AbstractContextManager[Any] = (
            nullcontext() if self.is_postgres else WriteLock(database)
        )
        # The hot writes (a new lead, a claim, "in flight", an outcome) commit in groups.
        self._writer = GroupWriter(self._write_engine, self._write_lock)
        self._blocklist = BlocklistCache(
            self._blocked_all, self._blocked_one, blocklist_refresh, BLOCKLIST_COPY_LIMIT
        )
        # How a new lead wakes a worker in another process: NOTIFY, else a local doorbell.
        self.doorbell = Doorbell(database) if database is not None else None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A Core write transaction (the dispatcher's hot path), serialised as above."""
        with self._write_lock, self._write_engine.begin() as conn:
            yield conn

    @contextmanager
    def session(self, write: bool = True) -> Iterator[Session]:
        if not write:
            with self._sessions() as session, session.begin():
                yield session
            return
        with self._write_lock, self._write_sessions() as session, session.begin():
            yield session

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def close(self) -> None:
        self._writer.close()
        if isinstance(self._write_lock, WriteLock):
            self._write_lock.close()
        if self.doorbell is not None:
            self.doorbell.close()
        self.engine.dispose()

    def _announce(self) -> None:
        """A lead fell due: wake the workers of other processes (PostgreSQL does in SQL)."""
        if self.doorbell is not None:
            self.doorbell.ring()

    # -- the visitor's side -------------------------------------------------------------------

    def find_existing(
        self, *, phone: str, idempotency_key: str | None, window: timedelta
    ) -> Lead | None:
        """The lead this request repeats: same idempotency key, else same number recently."""
        if not idempotency_key and window.total_seconds() <= 0:
            return None  # nothing to look for: no connection either
        # Core statements built once: this runs on every visitor request.
        with self.engine.connect() as conn:
            if idempotency_key:
                row = conn.execute(_BY_KEY, {"key": idempotency_key}).first()
                if row is not None:
                    if row.phone != phone:
                        raise IdempotencyConflict(idempotency_key)
                    return Lead(**row._mapping)
            if window.total_seconds() <= 0:
                return None
            row = conn.execute(_RECENT, {"phone": phone, "since": utcnow() - window}).first()
            return None if row is None else Lead(**row._mapping)

    def insert(self, lead: Lead) -> tuple[Lead, bool]:
        """Store a new queued lead; on a key raced by a twin request, return the twin's."""
        now = utcnow()
        lead.id = lead.id or new_lead_id()
        lead.created_at = lead.updated_at = now
        lead.status = lead.status if lead.status == HELD else QUEUED
        lead.due_at = lead.due_at or now
        lead.attempt_count, lead.in_flight, lead.confirmed = 0, False, True
        # Unset columns are left out so that their defaults apply.
        values = {
            column.key: value
            for column in LEADS.columns
            if (value := getattr(lead, column.key)) is not None
        }

        def write(conn: Connection) -> None:
            conn.execute(_INSERT, values)
            if self.is_postgres:
                conn.execute(_NOTIFY, {"channel": NOTIFY_CHANNEL})

        try:
            # Only a key can collide (a twin request racing this one): isolate those.
            self._writer.run(write, isolated=bool(lead.idempotency_key))
        except IntegrityError:
            if not lead.idempotency_key:
                raise
            twin = self.find_existing(
                phone=lead.phone, idempotency_key=lead.idempotency_key, window=timedelta(0)
            )
            if twin is None:
                raise
            return twin, False
        self._announce()
        return lead, True

    def get(self, lead_id: str, with_attempts: bool = False) -> Lead | None:
        with self.session(write=False) as s:
            query = select(Lead).where(Lead.id == lead_id)
            if with_attempts:
                query = query.options(selectinload(Lead.attempts))
            return s.scalar(query)

    # -- the dispatcher's side ----------------------------------------------------------------

    def claim(self, lease: timedelta, limit: int = 1) -> list[Lead]:
        """Take up to ``limit`` due leads for ``lease``; each is returned to one caller only.

        One statement: ``UPDATE … WHERE id IN (due ids) AND status = 'queued' RETURNING …``.
        The leads carry the columns placing a call needs (``_CLAIMED``), not the whole row.
        """
        now = utcnow()
        claim = _CLAIM_SKIP_LOCKED if self.is_postgres else _CLAIM
        params = {"now": now, "limit": limit, "lease_until": now + lease}
        rows = self._writer.run(lambda conn: conn.execute(claim, params).all())
        return [Lead(**row._mapping) for row in rows]

    def mark_in_flight(self, lead: Lead) -> bool:
        """Record that the request is about to leave; False if the claim was lost."""
        params = _held_params(lead)
        return self._writer.run(lambda conn: _rowcount(conn.execute(_IN_FLIGHT, params)) == 1)

    def finish(self, lead: Lead, outcome: Outcome) -> bool:
        """Write an attempt's outcome; False (and nothing written) if the claim was lost."""
        now = utcnow()
        values: dict[str, Any] = {
            **_held_params(lead),
            "new_status": outcome.status,
            "new_last_error": outcome.error,
            "now": now,
            "new_due_at": outcome.due_at,
        }
        if outcome.status == PLACED:
            values.update(new_provider_ref=outcome.provider_ref, new_confirmed=outcome.confirmed)
        statement = _FINISH_PLACED if outcome.status == PLACED else _FINISH
        attempt = {
            "lead_id": lead.id,
            "started_at": now - timedelta(milliseconds=outcome.duration_ms),
            "duration_ms": outcome.duration_ms,
            "outcome": outcome.attempt_outcome,
            "http_status": outcome.http_status,
            "error": outcome.error,
            "detail": outcome.detail,
        }

        def write(conn: Connection) -> bool:
            if _rowcount(conn.execute(statement, values)) != 1:
                return False
            conn.execute(_ADD_ATTEMPT, attempt)
            return True

        return self._writer.run(write)

    def reclaim_expired(self) -> tuple[int, int]:
        """Leases whose worker died: requeue if nothing was sent, else settle as unknown.

        Returns (requeued, settled). A lead whose request may have reached the provider is not
        sent again: it is marked placed but unconfirmed, so the visitor is never rung twice.
        """
        now = utcnow()
        expired = (Lead.status == DISPATCHING, Lead.lease_until < now)
        with self.session() as s:
            requeued = _rowcount(
                s.execute(
                    update(Lead)
                    .where(*expired, Lead.in_flight.is_(False))
                    .values(status=QUEUED, lease_until=None, due_at=now, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
            )
            settled = 0
            for lead in s.scalars(select(Lead).where(*expired, Lead.in_flight.is_(True))).all():
                error = "the worker stopped during the provider request; outcome unknown"
                result = s.execute(
                    update(Lead)
                    .where(*_held(lead))
                    .values(
                        status=PLACED,
                        confirmed=False,
                        placed_at=now,
                        lease_until=None,
                        in_flight=False,
                        last_error=error,
                        updated_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
                if _rowcount(result) == 1:
                    settled += 1
                    s.add(Attempt(lead_id=lead.id, started_at=now, outcome="unknown", error=error))
        if requeued or settled:
            log.warning("expired leases: %d requeued, %d settled as unknown", requeued, settled)
        return requeued, settled

    # -- agents and routing -------------------------------------------------------------------

    def wait_for_agent(self, lead: Lead, due_at: datetime) -> bool:
        """Park a claimed lead until ``due_at``: no agent can answer, so nothing was sent.

        The claim counted an attempt; waiting is not one, so the count is given back.
        """
        with self.session() as s:
            result = s.execute(
                update(Lead)
                .where(*_held(lead))
                .values(
                    status=WAITING_FOR_AGENT,
                    due_at=due_at,
                    lease_until=None,
                    in_flight=False,
                    attempt_count=Lead.attempt_count - 1,
                    agent_checks=Lead.agent_checks + 1,
                    updated_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            )
            return _rowcount(result) == 1

    def release_waiting(self) -> int:
        """Queue again the waiting leads whose re-check fell due; how many."""
        now = utcnow()
        with self.session() as s:
            result = s.execute(
                update(Lead)
                .where(Lead.status == WAITING_FOR_AGENT, Lead.due_at <= now)
                .values(status=QUEUED, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            return _rowcount(result)

    def record_destination(self, lead_id: str, destination: str) -> None:
        """Remember where the callback's agent leg went, for the call-routing webhook."""
        with self.session() as s:
            s.execute(
                update(Lead)
                .where(Lead.id == lead_id)
                .values(destination=destination)
                .execution_options(synchronize_session=False)
            )

    def sticky_destination(self, phone: str, window: timedelta) -> str | None:
        """Where the newest callback to ``phone`` placed within ``window`` was sent.

        Runs during a live call (the routing webhook): a prebuilt statement on a plain
        connection, no ORM session, costs a fraction of building the query each time.
        """
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
        with self.session(write=False) as s:
            query = select(Lead).order_by(Lead.created_at.desc())
            if status:
                query = query.where(Lead.status == status)
            if since:
                query = query.where(Lead.created_at >= since)
            if limit:
                query = query.limit(limit)
            return s.scalars(query).all()

    def retry(self, lead_id: str) -> bool:
        """Queue a failed or unconfirmed lead again, by an operator's decision."""
        now = utcnow()
        with self.session() as s:
            result = s.execute(
                update(Lead)
                .where(Lead.id == lead_id, Lead.status.in_((FAILED, PLACED)))
                .values(
                    status=QUEUED,
                    due_at=now,
                    last_error=None,
                    confirmed=True,
                    placed_at=None,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if self.is_postgres:
                s.execute(_NOTIFY, {"channel": NOTIFY_CHANNEL})
            retried = _rowcount(result) == 1
        if retried:
            self._announce()
        return retried

    def release_held(self, lead_id: str | None = None) -> int:
        """Queue held leads (one, or all) now: an operator lifted the daily budget's hold."""
        now = utcnow()
        query = update(LEADS).where(LEADS.c.status == HELD)
        if lead_id:
            query = query.where(LEADS.c.id == lead_id)
        with self._write() as conn:
            released = _rowcount(
                conn.execute(query.values(status=QUEUED, due_at=now, updated_at=now))
            )
            if self.is_postgres and released:
                conn.execute(_NOTIFY, {"channel": NOTIFY_CHANNEL})
        if released:
            self._announce()
        return released

    def purge(self, older_than: datetime) -> int:
        """Anonymise leads created before ``older_than``: mask the number, drop name,
        comment, IP and user agent. Attribution and outcomes stay for the statistics."""
        now = utcnow()
        with self._write() as conn:
            rows = conn.execute(
                select(LEADS.c.id, LEADS.c.phone).where(
                    LEADS.c.created_at < older_than, LEADS.c.anonymised_at.is_(None)
                )
            ).all()
            for lead_id, phone in rows:
                conn.execute(
                    update(LEADS)
                    .where(LEADS.c.id == lead_id)
                    .values(
                        phone=mask(phone),
                        name=None,
                        comment=None,
                        **dict.fromkeys(PERSONAL_FIELDS),  # IP, user agent (service.attribution)
                        anonymised_at=now,
                        updated_at=now,
                    )
                )
            if rows:
                conn.execute(
                    update(Attempt)
                    .where(Attempt.lead_id.in_([r[0] for r in rows]))
                    .values(detail=None)
                )
        return len(rows)

    # -- abuse defences -----------------------------------------------------------------------

    def numbers_from_ip(self, client_ip: str, since: datetime, limit: int) -> list[str]:
        """Up to ``limit`` distinct numbers this address asked us to call since ``since``."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(LEADS.c.phone)
                .where(LEADS.c.client_ip == client_ip, LEADS.c.created_at >= since)
                .distinct()
                .limit(limit)
            ).all()
        return [row[0] for row in rows]

    def calls_since(self, since: datetime, up_to: int) -> int:
        """Leads since ``since`` that were or will be called (not held, not failed), counted
        up to ``up_to`` only: the question is whether a budget is spent, on every request."""
        counted = (
            select(LEADS.c.id)
            .where(LEADS.c.created_at >= since, LEADS.c.status.not_in((HELD, FAILED)))
            .limit(up_to)
            .subquery()
        )
        with self.engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(counted)).scalar_one()
        return int(count)

    def is_blocked(self, number_digest: str) -> bool:
        return number_digest in self._blocklist

    def _blocked_one(self, number_digest: str) -> bool:
        with self.engine.connect() as conn:
            row = conn.execute(_BLOCKED_UNTIL, {"digest": number_digest}).first()
        return row is not None and in_force(row[0])

    def _blocked_all(self, limit: int) -> dict[str, datetime | None] | None:
        """Every block in force, or None when there are more than ``limit``."""
        with self.engine.connect() as conn:
            rows = conn.execute(_BLOCKS_IN_FORCE, {"now": utcnow(), "limit": limit + 1}).all()
        return None if len(rows) > limit else {digest: expires for digest, expires in rows}

    def block(
        self, number_digest: str, masked: str, expires_at: datetime | None, reason: str | None
    ) -> None:
        with self._write() as conn:
            conn.execute(delete(BLOCKED).where(BLOCKED.c.digest == number_digest))
            conn.execute(
                insert(BLOCKED).values(
                    digest=number_digest,
                    masked=masked,
                    created_at=utcnow(),
                    expires_at=expires_at,
                    reason=reason,
                )
            )
        self._blocklist.invalidate()

    def unblock(self, number_digest: str) -> bool:
        with self._write() as conn:
            removed = conn.execute(delete(BLOCKED).where(BLOCKED.c.digest == number_digest))
        self._blocklist.invalidate()
        return _rowcount(removed) == 1

    def blocked(self) -> Sequence[Any]:
        with self.engine.connect() as conn:
            return conn.execute(select(BLOCKED).order_by(BLOCKED.c.created_at)).all()

    def count_by_status(self) -> dict[str, int]:
        with self.session(write=False) as s:
            rows = s.execute(select(Lead.status, func.count()).group_by(Lead.status)).all()
            return {status: count for status, count in rows}


_INSERT = insert(LEADS)
_NOTIFY = text("SELECT pg_notify(:channel, '')")
_BY_KEY = select(LEADS).where(LEADS.c.idempotency_key == bindparam("key"))
_RECENT = (
    select(LEADS)
    .where(
        LEADS.c.phone == bindparam("phone"),
        LEADS.c.created_at >= bindparam("since"),
        LEADS.c.status.in_(OPEN_STATUSES),
    )
    .order_by(LEADS.c.created_at.desc())
    .limit(1)
)


_DUE = (
    select(LEADS.c.id)
    .where(LEADS.c.status == QUEUED, LEADS.c.due_at <= bindparam("now"))
    .order_by(LEADS.c.due_at)
    .limit(bindparam("limit"))
)
_HELD = (
    LEADS.c.id == bindparam("held_id"),
    LEADS.c.status == DISPATCHING,
    LEADS.c.attempt_count == bindparam("held_count"),
)
_IN_FLIGHT = update(LEADS).where(*_HELD).values(in_flight=True)
# What a claimed lead carries: what placing it needs (the call's fields, the claim's identity
# and age). Fewer columns make each claim cheaper to read and to turn into a Lead.
_CLAIMED = tuple(
    LEADS.c[name]
    for name in (
        "id",
        "created_at",
        "phone",
        "name",
        *ATTRIBUTION_FIELDS,
        "status",
        "provider",
        "attempt_count",
        "agent_checks",
        "lease_until",
        "due_at",
    )
)


def _claim_statement(due: Select[Any]) -> ReturningUpdate[Any]:
    """``UPDATE … WHERE id IN (due ids) AND status = 'queued' RETURNING …`` (see ``claim``)."""
    return (
        update(LEADS)
        .where(LEADS.c.id.in_(due), LEADS.c.status == QUEUED)
        .values(
            status=DISPATCHING,
            lease_until=bindparam("lease_until"),
            in_flight=False,
            attempt_count=LEADS.c.attempt_count + 1,
            updated_at=bindparam("now"),
        )
        .returning(*_CLAIMED)
    )


_CLAIM = _claim_statement(_DUE)
# PostgreSQL first locks the due rows it can get, skipping those another worker is claiming.
_CLAIM_SKIP_LOCKED = _claim_statement(_DUE.with_for_update(skip_locked=True))
# An attempt's outcome, written only while the claim still holds the lead.
_FINISH_VALUES: dict[str, Any] = {
    "status": bindparam("new_status"),
    "lease_until": None,
    "in_flight": False,
    "last_error": bindparam("new_last_error"),
    "updated_at": bindparam("now"),
    "due_at": bindparam("new_due_at"),
}
_FINISH = update(LEADS).where(*_HELD).values(**_FINISH_VALUES)
_FINISH_PLACED = (
    update(LEADS)
    .where(*_HELD)
    .values(
        **_FINISH_VALUES,
        placed_at=bindparam("now"),
        provider_ref=bindparam("new_provider_ref"),
        confirmed=bindparam("new_confirmed"),
    )
)
_BLOCKED_UNTIL = select(BLOCKED.c.expires_at).where(BLOCKED.c.digest == bindparam("digest"))
_BLOCKS_IN_FORCE = (
    select(BLOCKED.c.digest, BLOCKED.c.expires_at)
    .where(or_(BLOCKED.c.expires_at.is_(None), BLOCKED.c.expires_at > bindparam("now")))
    .limit(bindparam("limit"))
)

_ADD_ATTEMPT = insert(Attempt)


def _held_params(lead: Lead) -> dict[str, Any]:
    return {"held_id": lead.id, "held_count": lead.attempt_count}


def _held(lead: Lead) -> tuple[Any, ...]:
    """The WHERE clause that matches only while this claim still holds the lead."""
    return (
        Lead.id == lead.id,
        Lead.status == DISPATCHING,
        Lead.attempt_count == lead.attempt_count,
    )


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


def _sqlite_file(url: str | URL) -> Path | None:
    """The database file of a SQLite URL; None for any other database or one in memory."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database)


def make_engine(database_url: str) -> Engine:
    """An engine with the settings each backend wants for this workload."""
    if database_url.startswith("sqlite"):
        database = _sqlite_file(database_url)
        if database is not None:
            database.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            database_url, connect_args={"timeout": 30}, pool_size=20, max_overflow=60
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, emit BEGIN (see _sqlite_begin).
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            # WAL: readers never block the writer. FULL syncs every commit: an accepted lead
            # survives a power cut, not only a crash of the process.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # Straight to the driver: this runs for every transaction, and the full statement
            # machinery costs more than the BEGIN itself.
            begin = conn.get_execution_options().get("sqlite_begin", "BEGIN")
            conn.connection.dbapi_connection.execute(begin)  # type: ignore[union-attr]

        return engine
    return create_engine(database_url, pool_pre_ping=True, pool_size=20, max_overflow=60)
