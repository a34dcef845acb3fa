"""What is stored: leads and their attempts, the task queue, the blocklist, shared state.

A lead is one visitor's request for a call; its ``status`` moves as :mod:`.lifecycle` allows.
Every try at the provider is an :class:`Attempt` row of its own. What is still to be done for a
lead, and when, is a :class:`Task` (:mod:`service.tasks.queue`), never a column of the lead.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    mapped_column,
    query_expression,
    relationship,
)
from sqlalchemy.types import TypeDecorator

from ..attribution import SPECS, Attribution
from .lifecycle import OPEN_STATUSES, STATUSES, LeadStatus

__all__ = ["OPEN_STATUSES", "STATUSES", "LeadStatus"]


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_lead_id() -> str:
    """128 random bits, URL-safe: the id doubles as the capability to read the status.

    Never with a leading "-": operators pass ids to ``callgate leads …``, where one would read
    as an option.
    """
    while True:
        lead_id = secrets.token_urlsafe(16)
        if not lead_id.startswith("-"):
            return lead_id


# Short names for the statuses (the enum and its moves are in .lifecycle).
QUEUED = LeadStatus.QUEUED
SCHEDULED = LeadStatus.SCHEDULED
DISPATCHING = LeadStatus.DISPATCHING
PLACED = LeadStatus.PLACED
CONNECTED = LeadStatus.CONNECTED
FAILED = LeadStatus.FAILED
HELD = LeadStatus.HELD
WAITING_FOR_AGENT = LeadStatus.WAITING_FOR_AGENT
CANCELLED = LeadStatus.CANCELLED


class Base(DeclarativeBase):
    pass


def _attribution_columns() -> type:
    """A mixin with one nullable column per :class:`Attribution` field, sized as declared."""
    columns: dict[str, Any] = {
        name: mapped_column(String(spec.length), nullable=True) for name, spec in SPECS.items()
    }
    return type("AttributionColumns", (), columns)


if TYPE_CHECKING:
    # Typed code reads the columns through Lead.attribution.
    class AttributionColumns:
        pass
else:
    AttributionColumns = _attribution_columns()


class ClientKeyColumn:
    """The network a row's client counts as for the distinct-numbers-per-address cap:
    :func:`~service.addresses.address_key` of ``client_ip`` (an IPv6 client's /64 by
    ``CALLGATE_IPV6_PREFIX``, an IPv4 client's address), set by ``LeadStore.insert``. Stored,
    so that the cap reads one indexed column; ``client_ip`` keeps the full address.
    """

    # No longer than the address column: a network is at most 43 characters, and anything
    # that is not an address is kept as it is.
    client_key: Mapped[str | None] = mapped_column(String(SPECS["client_ip"].length))


class Lead(AttributionColumns, ClientKeyColumn, Base):
    __tablename__ = "leads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_lead_id)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    phone: Mapped[str] = mapped_column(String(20))
    name: Mapped[str | None] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)
    page_url: Mapped[str | None] = mapped_column(String(2048))
    # The attribution columns (UTM fields, client id, click ids, IP, user agent) come from
    # service.attribution.Attribution, through AttributionColumns.
    status: Mapped[str] = mapped_column(String(20), default=QUEUED)
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_ref: Mapped[str | None] = mapped_column(String(128))
    # The provider's last word on a placed call (RingCentral: call/caller/callee statuses).
    provider_status: Mapped[str | None] = mapped_column(String(128))
    placed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # False when the provider's answer never came (read timeout, crash mid-request): we
    # assume it was placed rather than risk ringing the visitor twice, and say so.
    confirmed: Mapped[bool] = mapped_column(Boolean, default=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_version: Mapped[str | None] = mapped_column(String(32))
    # Set by `callgate leads purge`: phone masked, name, comment, IP and user agent removed.
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where the callback's agent leg went (number or SIP login): a later call from the
    # visitor is routed there (the Ringostat call-routing webhook).
    destination: Mapped[str | None] = mapped_column(String(64))
    # How often the lead found no agent online (CALLGATE_REQUIRE_AGENT_ONLINE): its backoff.
    agent_checks: Mapped[int] = mapped_column(Integer, default=0)
    # The time the visitor chose (call_at): a lead held by the daily budget books no slot,
    # and is booked for it when released (LeadStore.release_held).
    call_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Not a column: when the lead's next call is due, read from its place_call task by
    # LeadStore.get (the status the visitor sees says "scheduled for" that time).
    scheduled_for: Mapped[datetime | None] = query_expression()

    attempts: Mapped[list[Attempt]] = relationship(
        back_populates="lead", order_by="Attempt.id", cascade="all, delete-orphan"
    )

    @property
    def attribution(self) -> Attribution:
        return Attribution.of(self)

    __table_args__ = (
        Index("ix_leads_status", "status"),
        Index("ix_leads_phone_created", "phone", "created_at"),
        Index("ix_leads_created", "created_at"),
        Index("ix_leads_key_created", "client_key", "created_at"),
    )


class LeadAlias(ClientKeyColumn, Base):
    """A repeat of an open lead's number from another client, answered as a fresh acceptance.

    Its id is what that client was given: reading it shows the one call that serves both
    requests, never the lead's own id, times or details (see ``docs/security.md``). Nothing
    is ever called for an alias.
    """

    __tablename__ = "lead_aliases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_lead_id)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    client_ip: Mapped[str | None] = mapped_column(String(45))
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    # What a fresh lead would have been stored as (queued, or held over the daily budget).
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_lead_aliases_lead_ip", "lead_id", "client_ip"),
        Index("ix_lead_aliases_key_created", "client_key", "created_at"),
    )


class Attempt(Base):
    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    # placed | retry | failed | unknown
    outcome: Mapped[str] = mapped_column(String(16))
    http_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    # What was sent, secrets masked; recorded by dry-run so the lead shows the request.
    detail: Mapped[str | None] = mapped_column(Text)

    lead: Mapped[Lead] = relationship(back_populates="attempts")


class BlockedNumber(Base):
    """A number nobody may ask us to call, stored as a keyed hash (see ``phone.digest``)."""

    __tablename__ = "blocked_numbers"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    masked: Mapped[str] = mapped_column(String(20))  # enough for an operator to recognise it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(200))


class Task(Base):
    """Something to do, for a lead or not, at a time: the one durable queue (see .queue)."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    lead_id: Mapped[str | None] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    # pending (waits for due_at) | running (leased) | done | failed (gave up)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # claims so far
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Incremented by every claim: a write carrying an older token is a worker whose lease was
    # taken over, and it matches nothing.
    fence: Mapped[int] = mapped_column(Integer, default=0)
    # Set, in its own commit, just before an at-most-once task acts outside (the provider
    # request): a lease that expires with it set is never run again, its kind settles it.
    in_flight: Mapped[bool] = mapped_column(Boolean, default=False)
    payload: Mapped[dict[str, object] | None] = mapped_column(JSON)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_tasks_state_due", "state", "due_at"),
        Index("ix_tasks_lead", "lead_id"),
    )


class ServiceState(Base):
    """Facts every process must see, e.g. the provider's configuration fault for /readyz."""

    __tablename__ = "service_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
