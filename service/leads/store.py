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
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from .model import (
    DISPATCHING,
    FAILED,
    OPEN_STATUSES,
    PLACED,
    QUEUED,
    Attempt,
    Lead,
    utcnow,
)

log = logging.getLogger("callgate.leads")

NOTIFY_CHANNEL = "callgate_leads"


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
    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self.engine = make_engine(database_url)
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()

    # -- the visitor's side -------------------------------------------------------------------

    def find_existing(
        self, *, phone: str, idempotency_key: str | None, window: timedelta
    ) -> Lead | None:
        """The lead this request repeats: same idempotency key, else same number recently."""
        with self.session() as s:
            if idempotency_key:
                lead = s.scalar(select(Lead).where(Lead.idempotency_key == idempotency_key))
                if lead is not None:
                    if lead.phone != phone:
                        raise IdempotencyConflict(idempotency_key)
                    return lead
            if window.total_seconds() <= 0:
                return None
            return s.scalar(
                select(Lead)
                .where(
                    Lead.phone == phone,
                    Lead.created_at >= utcnow() - window,
                    Lead.status.in_(OPEN_STATUSES),
                )
                .order_by(Lead.created_at.desc())
                .limit(1)
            )

    def insert(self, lead: Lead) -> tuple[Lead, bool]:
        """Store a new queued lead; on a key raced by a twin request, return the twin's."""
        now = utcnow()
        lead.created_at = now
        lead.status = QUEUED
        lead.due_at = lead.due_at or now
        try:
            with self.session() as s:
                s.add(lead)
                if self.is_postgres:
                    s.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})
        except IntegrityError:
            if not lead.idempotency_key:
                raise
            with self.session() as s:
                twin = s.scalar(select(Lead).where(Lead.idempotency_key == lead.idempotency_key))
            if twin is None:
                raise
            if twin.phone != lead.phone:
                raise IdempotencyConflict(lead.idempotency_key) from None
            return twin, False
        return lead, True

    def get(self, lead_id: str, with_attempts: bool = False) -> Lead | None:
        with self.session() as s:
            query = select(Lead).where(Lead.id == lead_id)
            if with_attempts:
                query = query.options(selectinload(Lead.attempts))
            return s.scalar(query)

    # -- the dispatcher's side ----------------------------------------------------------------

    def claim(self, lease: timedelta, limit: int = 1) -> list[Lead]:
        """Take up to ``limit`` due leads for ``lease``; each is returned to one caller only."""
        now = utcnow()
        with self.session() as s:
            query = (
                select(Lead.id)
                .where(Lead.status == QUEUED, Lead.due_at <= now)
                .order_by(Lead.due_at)
                .limit(limit)
            )
            if self.is_postgres:
                query = query.with_for_update(skip_locked=True)
            won = []
            for lead_id in s.scalars(query).all():
                result = s.execute(
                    update(Lead)
                    .where(Lead.id == lead_id, Lead.status == QUEUED)
                    .values(
                        status=DISPATCHING,
                        lease_until=now + lease,
                        in_flight=False,
                        attempt_count=Lead.attempt_count + 1,
                        updated_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
                if _rowcount(result) == 1:
                    won.append(lead_id)
            if not won:
                return []
            return list(s.scalars(select(Lead).where(Lead.id.in_(won))).all())

    def mark_in_flight(self, lead: Lead) -> bool:
        """Record that the request is about to leave; False if the claim was lost."""
        with self.session() as s:
            result = s.execute(
                update(Lead)
                .where(*_held(lead))
                .values(in_flight=True)
                .execution_options(synchronize_session=False)
            )
            return _rowcount(result) == 1

    def finish(self, lead: Lead, outcome: Outcome) -> bool:
        """Write an attempt's outcome; False (and nothing written) if the claim was lost."""
        now = utcnow()
        values: dict[str, Any] = {
            "status": outcome.status,
            "lease_until": None,
            "in_flight": False,
            "last_error": outcome.error,
            "updated_at": now,
            "due_at": outcome.due_at,
        }
        if outcome.status == PLACED:
            values.update(
                placed_at=now, provider_ref=outcome.provider_ref, confirmed=outcome.confirmed
            )
        with self.session() as s:
            result = s.execute(
                update(Lead)
                .where(*_held(lead))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(result) != 1:
                return False
            s.add(
                Attempt(
                    lead_id=lead.id,
                    started_at=now - timedelta(milliseconds=outcome.duration_ms),
                    duration_ms=outcome.duration_ms,
                    outcome=outcome.attempt_outcome,
                    http_status=outcome.http_status,
                    error=outcome.error,
                    detail=outcome.detail,
                )
            )
        return True

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

    def next_due(self) -> datetime | None:
        with self.session() as s:
            return s.scalar(select(func.min(Lead.due_at)).where(Lead.status == QUEUED))

    # -- operators ----------------------------------------------------------------------------

    def list(
        self, status: str | None = None, since: datetime | None = None, limit: int | None = None
    ) -> Sequence[Lead]:
        with self.session() as s:
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
                s.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})
            return _rowcount(result) == 1

    def count_by_status(self) -> dict[str, int]:
        with self.session() as s:
            rows = s.execute(select(Lead.status, func.count()).group_by(Lead.status)).all()
            return {status: count for status, count in rows}


def _held(lead: Lead) -> tuple[Any, ...]:
    """The WHERE clause that matches only while this claim still holds the lead."""
    return (
        Lead.id == lead.id,
        Lead.status == DISPATCHING,
        Lead.attempt_count == lead.attempt_count,
    )


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


def make_engine(database_url: str) -> Engine:
    """An engine with the settings each backend wants for this workload."""
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(database_url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            # WAL: readers never block the writer. FULL syncs every commit: an accepted lead
            # survives a power cut, not only a crash of the process.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(database_url, pool_pre_ping=True, pool_size=10, max_overflow=20)
