"""Store operations for following placed calls (providers that report on them, RingCentral).

A placed lead with a ``due_at`` is due for a status check at that time. The due time doubles as
the claim: a checker moves it forward with a conditional UPDATE that only succeeds while the
lead still has the value it read, so two checkers never ask about the same call at once, and a
checker that dies is replaced when its hold runs out. Kept apart from :mod:`.store` so the
dispatcher's hot path there stays as it is.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from .model import FAILED, PLACED, QUEUED, Lead, utcnow
from .store import LeadStore


def claim_check(store: LeadStore, hold: timedelta) -> Lead | None:
    """A placed lead due for a status check, held for ``hold`` (its due time moves on)."""
    now = utcnow()
    with store.session() as s:
        query = (
            select(Lead.id, Lead.due_at)
            .where(Lead.status == PLACED, Lead.due_at <= now, Lead.provider_ref.is_not(None))
            .order_by(Lead.due_at)
            .limit(1)
        )
        if store.is_postgres:
            query = query.with_for_update(skip_locked=True)
        row = s.execute(query).first()
        if row is None:
            return None
        result = s.execute(
            update(Lead)
            .where(Lead.id == row.id, Lead.status == PLACED, Lead.due_at == row.due_at)
            .values(due_at=now + hold)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) != 1:
            return None
        return s.scalar(select(Lead).where(Lead.id == row.id))


def record_check(
    store: LeadStore,
    lead: Lead,
    *,
    status: str,
    due_at: datetime | None,
    provider_status: str | None = None,
    error: str | None = None,
) -> bool:
    """Write a status check's result; False if the lead moved on meanwhile."""
    values: dict[str, Any] = {"status": status, "due_at": due_at, "updated_at": utcnow()}
    if provider_status is not None:
        values["provider_status"] = provider_status
    if error is not None:
        values["last_error"] = error
    with store.session() as s:
        result = s.execute(
            update(Lead)
            .where(Lead.id == lead.id, Lead.status == PLACED, Lead.due_at == lead.due_at)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1


def cancel(store: LeadStore, lead_id: str, reason: str) -> bool:
    """Fail a queued or placed lead by an operator's decision; False if it is neither."""
    with store.session() as s:
        result = s.execute(
            update(Lead)
            .where(Lead.id == lead_id, Lead.status.in_((QUEUED, PLACED)))
            .values(status=FAILED, due_at=None, last_error=reason, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1


def _rowcount(result: Any) -> int:
    return int(result.rowcount)
