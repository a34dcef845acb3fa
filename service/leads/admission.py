"""Whether a new lead is stored, decided in the transaction that stores it.

The distinct-numbers-per-address cap, de-duplication and the daily call budget are each a
count of stored leads. Read before the write, simultaneous requests all read the same count
and all pass; here they are read inside the lead's write transaction, after the one lock every
admission takes:

* SQLite: writers are already serialised by :mod:`service.database.locking` (``flock`` and a
  thread lock), and a group commit (:mod:`service.database.batching`) runs its writes one after
  another in one transaction, each seeing those before it. Nothing more is needed.
* PostgreSQL: ``pg_advisory_xact_lock`` on one key, held to the commit. One key, not one per
  address, number and day: the daily budget is one count over every lead of the day, so any
  correct budget serialises admissions anyway (a counter row would too), and per-address or
  per-number locks taken in the order a batch's writes arrive could deadlock two batches.
  SERIALIZABLE would abort most concurrent admissions instead (they all read the day's range
  and insert into it) and make each retry a round trip. Only admissions take the lock, first
  in their batch (:meth:`.GroupWriter.run`'s ``first``), so claims and outcomes never wait.

With every rule off (``0``) nothing here runs: no lock and no read.

De-duplication never tells one client about another's lead (``docs/security.md``): a repeat
from the lead's own client (its address or its idempotency key) gets the lead; a repeat from
anyone else gets a :class:`~.model.LeadAlias`, an id of its own answered as a fresh acceptance,
and nothing more is called. The cap is decided first, so its refusal says nothing about
whether the number was asked for.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, Table, and_, bindparam, func, insert, or_, select, text

from .lifecycle import NOT_CALLED_YET, LeadStatus
from .model import (
    CANCELLED,
    DISPATCHING,
    FAILED,
    HELD,
    OPEN_STATUSES,
    Lead,
    LeadAlias,
    new_lead_id,
)

log = logging.getLogger("callgate.leads")

LEADS: Table = Lead.__table__  # type: ignore[assignment]
ALIASES: Table = LeadAlias.__table__  # type: ignore[assignment]
# Any fixed number, the same in every process of every version (schema.py's is 4177001).
ADMISSION_LOCK = 4177002
ADMISSION_FIRST = 1  # its rank among the locks taken first in a batch (see GroupWriter.run)
_LOCK = text(f"SELECT pg_advisory_xact_lock({ADMISSION_LOCK})")

RECENT = (
    select(LEADS)
    .where(
        LEADS.c.phone == bindparam("phone"),
        LEADS.c.created_at >= bindparam("since"),
        LEADS.c.status.in_(OPEN_STATUSES),
    )
    .order_by(LEADS.c.created_at.desc())
    .limit(1)
)
# The numbers a client asked for: its leads', and those of the leads it was an alias of. A
# client is its network (client_key: an IPv6 /64 is one subscriber), not each address in it.
NUMBERS_FROM = (
    select(LEADS.c.phone)
    .where(LEADS.c.client_key == bindparam("key"), LEADS.c.created_at >= bindparam("since"))
    .union(
        select(LEADS.c.phone)
        .join(ALIASES, ALIASES.c.lead_id == LEADS.c.id)
        .where(ALIASES.c.client_key == bindparam("key"), ALIASES.c.created_at >= bindparam("since"))
    )
    .limit(bindparam("limit"))
)
_ALIAS_FOR = (
    select(ALIASES)
    .where(
        ALIASES.c.lead_id == bindparam("lead_id"),
        or_(ALIASES.c.client_ip == bindparam("ip"), ALIASES.c.idempotency_key == bindparam("key")),
    )
    .limit(1)
)
# Leads of the day that were or will be called; counted up to the budget only.
_CALLS_SINCE = select(func.count()).select_from(
    select(LEADS.c.id)
    .where(
        LEADS.c.created_at >= bindparam("since"),
        # Equalities, not NOT IN: an expanding IN is re-rendered on every execution.
        and_(LEADS.c.status != HELD, LEADS.c.status != FAILED, LEADS.c.status != CANCELLED),
    )
    .limit(bindparam("up_to"))
    .subquery()
)
_ADD_ALIAS = insert(ALIASES)
# A lead in one of these has not been called yet: its aliases show their own first status.
_NOT_CALLED_YET = frozenset({*NOT_CALLED_YET, DISPATCHING})


@dataclass(frozen=True)
class Admission:
    """The rules a new lead is admitted by (``0`` turns one off)."""

    max_numbers_per_ip: int = 0  # distinct numbers one address may ask for in an hour
    dedupe_window: timedelta = timedelta(0)  # one open lead per number within it
    daily_call_budget: int = 0  # leads a day queued for a call; the rest are held
    # The request was not counted against its number's rate limit, as a repeat: if it turns
    # out fresh after all (the lead it repeated closed meanwhile), store nothing (NotARepeat).
    repeat_expected: bool = False

    @property
    def active(self) -> bool:
        return bool(
            self.max_numbers_per_ip or self.dedupe_window > timedelta(0) or self.daily_call_budget
        )


@dataclass(frozen=True)
class Verdict:
    """What :func:`decide` found. ``answer`` set: store nothing, answer with it (``created``
    says whether it is new, i.e. a fresh alias, to be answered as a fresh acceptance)."""

    capped: bool = False
    not_a_repeat: bool = False
    answer: Lead | None = None
    created: bool = False
    hold: bool = False


class NotARepeat(Exception):
    """A request let through as a repeat found no open lead to repeat: count it, try again."""


class TooManyNumbers(Exception):
    """The address asked for calls to ``cap`` other numbers within the hour."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"more than {cap} numbers from one address in an hour")
        self.cap = cap


def decide(
    conn: Connection, lead: Lead, rules: Admission, now: datetime, postgres: bool
) -> Verdict:
    """The cap, then de-duplication, then the budget, for ``lead`` (not stored yet), in the
    caller's write transaction. May store an alias (a repeat from another client)."""
    if postgres:
        conn.execute(_LOCK)
    client_ip = lead.attribution.client_ip
    if rules.max_numbers_per_ip and over_cap(
        conn, lead.client_key, lead.phone, rules.max_numbers_per_ip, now
    ):
        return Verdict(capped=True)
    if rules.dedupe_window > timedelta(0):
        twin = conn.execute(RECENT, {"phone": lead.phone, "since": now - rules.dedupe_window})
        found = twin.first()
        if found is not None:
            return _repeat(conn, lead, client_ip, found, rules, now)
        if rules.repeat_expected:
            return Verdict(not_a_repeat=True)
    return Verdict(hold=_hold(conn, rules, now))


def over_cap(conn: Connection, client_key: str | None, phone: str, cap: int, now: datetime) -> bool:
    """Whether ``phone`` would be a number past the ``cap`` the client ``client_key`` (its
    address, or its IPv6 network: :func:`~service.addresses.address_key`) may ask for an hour."""
    if client_key is None:
        return False
    params = {"key": client_key, "since": now - timedelta(hours=1), "limit": cap + 1}
    numbers = {row[0] for row in conn.execute(NUMBERS_FROM, params)}
    return phone not in numbers and len(numbers) >= cap


def _hold(conn: Connection, rules: Admission, now: datetime) -> bool:
    budget = rules.daily_call_budget
    if budget <= 0:
        return False
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if calls_since(conn, midnight, budget) < budget:
        return False
    log.error(
        "ALERT: daily call budget of %d reached; new leads are held until `callgate leads release`",
        budget,
    )
    return True


def calls_since(conn: Connection, since: datetime, up_to: int) -> int:
    """Leads since ``since`` that were or will be called, counted up to ``up_to`` only."""
    return int(conn.execute(_CALLS_SINCE, {"since": since, "up_to": up_to}).scalar_one())


def _repeat(
    conn: Connection,
    lead: Lead,
    client_ip: str | None,
    twin: Row[Any],
    rules: Admission,
    now: datetime,
) -> Verdict:
    """``lead`` repeats the open lead ``twin``: the twin for its own client, else an alias."""
    key = lead.idempotency_key
    own = twin.client_ip is not None and twin.client_ip == client_ip
    if own or (key is not None and twin.idempotency_key == key):
        return Verdict(answer=Lead(**twin._mapping))
    params = {"lead_id": twin.id, "ip": client_ip, "key": key}
    alias = conn.execute(_ALIAS_FOR, params).first()
    if alias is not None:
        return Verdict(answer=alias_view(alias, twin))
    # Held over the budget exactly when a fresh lead would have been.
    status = HELD if _hold(conn, rules, now) else LeadStatus(lead.status)
    row = {
        "id": new_lead_id(),
        "lead_id": twin.id,
        "client_ip": client_ip,
        "client_key": lead.client_key,
        "idempotency_key": key,
        "status": status,
        "created_at": now,
    }
    conn.execute(_ADD_ALIAS, row)
    log.info("a repeat of lead %s from another client is answered as %s", twin.id, row["id"])
    # Answered as a fresh acceptance is: its first status, even when the call was made already.
    return Verdict(answer=Lead(id=row["id"], status=status, created_at=now), created=True)


def alias_view(alias: Any, lead: Any) -> Lead:
    """What the alias's client may see: its own id, time and first status, then the progress
    of the one call that serves it (never a time before the alias existed)."""
    status = alias.status
    placed_at = None
    if status != HELD and lead.status not in _NOT_CALLED_YET:
        status = lead.status
        if lead.placed_at is not None:
            placed_at = max(lead.placed_at, alias.created_at)
    return Lead(id=alias.id, status=status, created_at=alias.created_at, placed_at=placed_at)
