"""Retention: ``callgate leads purge`` anonymises old leads (what it erases is declared by
:data:`service.attribution.PERSONAL` and the statements below).

Only leads that will not be called: placed, connected, failed or cancelled. One still to be
called (booked days ahead, held by the budget, waiting for an agent) keeps its number until it
ends, or it would be dialled masked; the purge counts those it kept, for the operator to cancel
what should not wait. An operator's retry refuses an anonymised lead (``LeadStore.retry``), and
the anonymising write checks the status again (on PostgreSQL a retry may commit between the
purge's read and its write)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, select, update

from ..attribution import PERSONAL as PERSONAL_FIELDS
from ..database.engine import rowcount
from ..phone import mask
from ..tasks import queue
from .admission import ALIASES
from .lifecycle import CALLED_OR_ENDED
from .model import utcnow
from .store import ATTEMPTS, LEADS, LeadStore

_FORGET_ALIAS_IPS = (
    update(ALIASES)
    .where(ALIASES.c.created_at < bindparam("before"))
    .values(client_ip=None, client_key=None)
)
_NOT_ANONYMISED = (LEADS.c.created_at < bindparam("before"), LEADS.c.anonymised_at.is_(None))
_OLD_LEADS = select(LEADS.c.id, LEADS.c.phone).where(
    *_NOT_ANONYMISED, LEADS.c.status.in_(CALLED_OR_ENDED)
)
_KEPT = select(func.count()).where(*_NOT_ANONYMISED, LEADS.c.status.not_in(CALLED_OR_ENDED))
_ANONYMISE = (
    update(LEADS)
    .where(
        LEADS.c.id == bindparam("lead_id"),
        LEADS.c.status.in_(CALLED_OR_ENDED),
        LEADS.c.anonymised_at.is_(None),
    )
    .values(
        phone=bindparam("masked"),
        name=None,
        comment=None,
        **dict.fromkeys(PERSONAL_FIELDS),  # IP, user agent (declared in service.attribution)
        client_key=None,  # an IPv4 client's is its address
        anonymised_at=bindparam("now"),
        updated_at=bindparam("now"),
    )
)
_FORGET_DETAIL = (
    update(ATTEMPTS).where(ATTEMPTS.c.lead_id == bindparam("of_lead")).values(detail=None)
)
# Finished tasks' payloads hold what they sent (a webhook's body has the number and name).
_FORGET_PAYLOADS = (
    update(queue.TASKS)
    .where(
        queue.TASKS.c.created_at < bindparam("before"),
        queue.TASKS.c.state.in_((queue.DONE, queue.GAVE_UP)),
        queue.TASKS.c.payload.is_not(None),
    )
    .values(payload=None)
)


def purge(store: LeadStore, older_than: datetime) -> tuple[int, int]:
    """Anonymise leads created before ``older_than`` that will not be called: mask the
    number, drop name, comment, IP and user agent, and what finished tasks sent (webhook
    bodies, alerts). Attribution and outcomes stay for the statistics. Returns how many were
    anonymised, and how many as old are still to be called (kept)."""
    now = utcnow()
    anonymised = 0
    with store.transaction() as conn:
        rows = conn.execute(_OLD_LEADS, {"before": older_than}).all()
        for lead_id, phone in rows:
            params = {"lead_id": lead_id, "masked": mask(phone), "now": now}
            if rowcount(conn.execute(_ANONYMISE, params)) == 1:  # not retried meanwhile
                conn.execute(_FORGET_DETAIL, {"of_lead": lead_id})
                anonymised += 1
        conn.execute(_FORGET_ALIAS_IPS, {"before": older_than})
        conn.execute(_FORGET_PAYLOADS, {"before": older_than})
        kept = int(conn.execute(_KEPT, {"before": older_than}).scalar_one())
    return anonymised, kept
