"""The lead and its attempts, as stored.

A lead is one visitor's request for a call. Its ``status`` moves along::

    queued -> dispatching -> placed [-> connected | failed]
       ^          |
       +----------+  a passing failure, with a later due_at
                  +-> failed          permanent error, too many attempts, or too old
    held -> queued                    over the daily call budget, released by an operator

Every try at the provider is an :class:`Attempt` row of its own. A placed lead with a
``due_at`` is one whose provider reports on its calls: it is asked again at that time
(``service.tracking``) until it says connected or failed.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from ..attribution import SPECS, Attribution


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


QUEUED = "queued"
DISPATCHING = "dispatching"
PLACED = "placed"
CONNECTED = "connected"
FAILED = "failed"
HELD = "held"
# CALLGATE_REQUIRE_AGENT_ONLINE: nobody can answer yet; re-checked with backoff.
WAITING_FOR_AGENT = "waiting_for_agent"

OPEN_STATUSES = (QUEUED, WAITING_FOR_AGENT, DISPATCHING, PLACED, CONNECTED, HELD)
STATUSES = (QUEUED, WAITING_FOR_AGENT, HELD, DISPATCHING, PLACED, CONNECTED, FAILED)


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


class Lead(AttributionColumns, Base):
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
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set in the same commit as the claim, before the request goes out: a lease that expires
    # with it set means the provider may have been reached (see dispatch.reclaim_expired).
    in_flight: Mapped[bool] = mapped_column(Boolean, default=False)
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

    attempts: Mapped[list[Attempt]] = relationship(
        back_populates="lead", order_by="Attempt.id", cascade="all, delete-orphan"
    )

    @property
    def attribution(self) -> Attribution:
        return Attribution.of(self)

    __table_args__ = (
        Index("ix_leads_status_due", "status", "due_at"),
        Index("ix_leads_phone_created", "phone", "created_at"),
        Index("ix_leads_created", "created_at"),
        Index("ix_leads_ip_created", "client_ip", "created_at"),
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
