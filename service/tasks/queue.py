"""The one durable task queue: what is to be done, for which lead, and when.

A task is a row of ``tasks`` with its kind, lead, due time, attempts, lease and fencing token.
The store (:class:`service.leads.LeadStore`) runs the statements below; the claim loop
(:mod:`service.tasks`) runs a handler per kind. The rules, the same on SQLite and PostgreSQL:

* a claim is one conditional UPDATE (``state = 'pending'``) whose RETURNING says who won;
  PostgreSQL first narrows the candidates with ``FOR UPDATE SKIP LOCKED``. Each claim
  increments ``fence``;
* every later write about a claimed task names its fence (``WHERE id = … AND fence = …
  AND state = 'running'``): a worker whose lease ran out and was taken over writes nothing;
* at most once (a call): the handler sets ``in_flight`` in its own commit before acting
  outside; a lease that expires with it set is handed to its kind's ``lost`` hook, never run
  again. At least once (a delivery): a handler that raises is run again with backoff, its
  attempts counted, until the kind's limit.

Adding a kind is a name here and a handler registered with the claim loop
(``TaskRunner.register``); :func:`follow_up` is where a status change adds tasks of its own,
the events it emits included (an :class:`Outbox`, see :mod:`service.events.hook`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Table, bindparam, exists, func, insert, select, update

from ..leads.lifecycle import LeadStatus
from ..leads.model import Lead, Task

TASKS: Table = Task.__table__  # type: ignore[assignment]
NOTIFY_CHANNEL = "callgate_tasks"

PLACE_CALL = "place_call"
RECHECK_AGENTS = "recheck_agents"
POLL_CALL_STATUS = "poll_call_status"
# Events out (service.events): at least once, each try's outcome recorded on the task.
DELIVER_WEBHOOK = "deliver_webhook"
SEND_ALERT = "send_alert"
SEND_GA4_EVENT = "send_ga4_event"

# A place_call task's payload: when its call was due (ISO 8601), for a call booked into a slot
# or moved to an opening. CALLGATE_MAX_AGE counts from then; without it, from the request.
DUE_FROM = "due_from"

PENDING, RUNNING, DONE, GAVE_UP = "pending", "running", "done", "failed"
# Kinds that act on the call itself: pointless once the lead has ended (later kinds, such as
# deliveries, still run).
CALL_KINDS = (PLACE_CALL, RECHECK_AGENTS, POLL_CALL_STATUS)
# Kinds whose handler reads its lead: read for a whole claimed batch at once (TaskStore.claim).
LEAD_KINDS = (PLACE_CALL, POLL_CALL_STATUS)


@dataclass(frozen=True)
class NewTask:
    """A task to enqueue; ``due_at`` None means now."""

    kind: str
    lead_id: str | None
    due_at: datetime | None = None
    payload: dict[str, Any] | None = None


@dataclass(frozen=True)
class ClaimedTask:
    """A task as its holder sees it: ``fence`` is the holder's right to write about it."""

    id: int
    kind: str
    lead_id: str | None
    fence: int
    attempts: int
    payload: dict[str, Any] | None = field(default=None, compare=False)
    # Its lead as read with the claim (LEAD_KINDS); None: not read, or not found then.
    lead: Lead | None = field(default=None, compare=False, repr=False)


def due_payload(due: datetime) -> dict[str, Any]:
    """The payload of a place_call task booked for ``due``."""
    return {DUE_FROM: due.isoformat()}


def call_due(lead_id: str, due: datetime) -> NewTask:
    """A lead's place_call task due at ``due``, with CALLGATE_MAX_AGE counting from then (a
    booked slot, or an operator's decision), not from the request."""
    return NewTask(PLACE_CALL, lead_id, due, due_payload(due))


def due_from(payload: dict[str, Any] | None) -> datetime | None:
    """When the call of a place_call task with ``payload`` was due; None: at its request."""
    found = (payload or {}).get(DUE_FROM)
    return datetime.fromisoformat(found) if isinstance(found, str) else None


class Outbox(Protocol):
    """What a lead's moves send out (webhooks, alerts, GA4 events), as tasks.

    The store asks :meth:`emits` first, so a move that sends nothing costs nothing more; then
    hands :meth:`tasks` the lead as it is after the move, inside the move's transaction.
    """

    def emits(self, target: LeadStatus, created: bool) -> bool: ...

    def tasks(
        self, lead: Mapping[str, Any], target: LeadStatus, created: bool
    ) -> list[NewTask]: ...

    def service(self, kind: str, reason: str) -> list[NewTask]: ...


def follow_up(
    lead_id: str,
    source: tuple[LeadStatus, ...],
    target: LeadStatus,
    *,
    lead: Mapping[str, Any] | None = None,
    outbox: Outbox | None = None,
) -> list[NewTask]:
    """Tasks that a lead's move to ``target`` enqueues by itself, in the same transaction.

    The one place for what follows a status change whatever caused it: the events it emits
    (an outbox: the tasks commit with the change or not at all). ``lead`` is the lead after
    the move (``source`` empty: just stored), given when ``outbox`` :meth:`~Outbox.emits`.
    """
    if outbox is None or lead is None:
        return []
    return outbox.tasks(lead, target, created=not source)


def task_row(task: NewTask, now: datetime) -> dict[str, Any]:
    return {
        "kind": task.kind,
        "lead_id": task.lead_id,
        "due_at": task.due_at or now,
        "payload": task.payload,
        "state": PENDING,
        "attempts": 0,
        "fence": 0,
        "in_flight": False,
        "created_at": now,
        "updated_at": now,
    }


ENQUEUE = insert(TASKS)
_DUE = (
    select(TASKS.c.id)
    .where(TASKS.c.state == PENDING, TASKS.c.due_at <= bindparam("now"))
    .order_by(TASKS.c.due_at)
    .limit(bindparam("limit"))
)
_CLAIM_RETURNS = (
    TASKS.c.id,
    TASKS.c.kind,
    TASKS.c.lead_id,
    TASKS.c.fence,
    TASKS.c.attempts,
    TASKS.c.payload,
)


def _claim(due: Any) -> Any:
    return (
        update(TASKS)
        .where(TASKS.c.id.in_(due), TASKS.c.state == PENDING)
        .values(
            state=RUNNING,
            lease_until=bindparam("new_lease"),
            fence=TASKS.c.fence + 1,
            attempts=TASKS.c.attempts + 1,
            in_flight=False,
            updated_at=bindparam("now"),
        )
        .returning(*_CLAIM_RETURNS)
    )


CLAIM = _claim(_DUE)
# PostgreSQL first locks the due rows it can get, skipping those another worker is claiming.
# Materialised: as a plain IN (subquery) the planner may run it again for each row it updates,
# and each run skips the rows this statement just updated, so it claimed every due task.
_LOCKED_DUE = _DUE.with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED")
CLAIM_SKIP_LOCKED = _claim(select(_LOCKED_DUE.c.id))
# A cheap read (SQLite's short poll asks it, not the claim, which writes): due now, or when?
NEXT_DUE = select(func.min(TASKS.c.due_at)).where(TASKS.c.state == PENDING)
# The holder's writes: only while its fence is the task's.
_HELD = (
    TASKS.c.id == bindparam("held_task"),
    TASKS.c.fence == bindparam("held_fence"),
    TASKS.c.state == RUNNING,
)
# The same, as a condition another table's write can carry (see LeadStore.transition).
HELD_BY = exists().where(*_HELD)
IN_FLIGHT = update(TASKS).where(*_HELD).values(in_flight=True, updated_at=bindparam("now"))
# Still held, and held on: the task's row is locked until the holder's transaction ends.
HOLD = update(TASKS).where(*_HELD).values(updated_at=bindparam("now"))
FINISH = (
    update(TASKS)
    .where(*_HELD)
    .values(
        state=bindparam("new_state"),
        lease_until=None,
        in_flight=False,
        last_error=bindparam("error"),
        updated_at=bindparam("now"),
    )
)
_AGAIN_VALUES: dict[str, Any] = {
    "state": PENDING,
    "due_at": bindparam("new_due"),
    "lease_until": None,
    "in_flight": False,
    "last_error": bindparam("error"),
    "updated_at": bindparam("now"),
}
# Back to the queue at a later time, by its holder that knows the outcome (a call that failed
# for a passing reason, the next status poll).
AGAIN = update(TASKS).where(*_HELD).values(**_AGAIN_VALUES)
# Not run yet after all (an alert waiting for its channel's next minute): the claim's attempt
# is given back, and the payload may grow (the alerts it took over).
POSTPONE = (
    update(TASKS)
    .where(*_HELD)
    .values(
        state=PENDING,
        due_at=bindparam("new_due"),
        lease_until=None,
        attempts=TASKS.c.attempts - 1,
        payload=bindparam("new_payload"),
        updated_at=bindparam("now"),
    )
)
# A holder's own payload, rewritten (an alert task that took over others' alerts).
SET_PAYLOAD = update(TASKS).where(*_HELD).values(payload=bindparam("new_payload"))
# The same after a handler raised: never once in flight (the outcome is unknown).
RETRY = update(TASKS).where(*_HELD, TASKS.c.in_flight.is_(False)).values(**_AGAIN_VALUES)
# A lead ended (failed, cancelled, connected): its call's pending tasks go with it.
DROP_CALL_TASKS = (
    update(TASKS)
    .where(
        TASKS.c.lead_id == bindparam("ended_lead"),
        TASKS.c.state == PENDING,
        TASKS.c.kind.in_(CALL_KINDS),
    )
    .values(state=DONE, last_error=bindparam("error"), updated_at=bindparam("now"))
)
_EXPIRED = (TASKS.c.state == RUNNING, TASKS.c.lease_until < bindparam("now"))
# A holder that died before acting outside: its task is simply due again.
REQUEUE_EXPIRED = (
    update(TASKS)
    .where(*_EXPIRED, TASKS.c.in_flight.is_(False))
    .values(state=PENDING, lease_until=None, due_at=bindparam("now"), updated_at=bindparam("now"))
)
# One that died while acting: taken over (a new fence) and settled by its kind, never rerun.
EXPIRED_IN_FLIGHT = select(*_CLAIM_RETURNS).where(*_EXPIRED, TASKS.c.in_flight.is_(True))
TAKE_OVER = (
    update(TASKS)
    .where(
        TASKS.c.id == bindparam("held_task"), TASKS.c.fence == bindparam("held_fence"), *_EXPIRED
    )
    .values(fence=TASKS.c.fence + 1, lease_until=bindparam("new_lease"))
)


class LeaseLost(Exception):
    """A holder's fenced write matched nothing after others in its transaction were written
    (its lease was taken over): raised to roll the holder's savepoint back."""


def still_held(result: Any) -> None:
    """After a fenced write inside a holder's transaction: raise :class:`LeaseLost` unless it
    matched the task (a take-over committed meanwhile)."""
    if int(result.rowcount) != 1:
        raise LeaseLost("lease lost")


def held(task: ClaimedTask) -> dict[str, Any]:
    """The parameters of a fenced write about ``task``."""
    return {"held_task": task.id, "held_fence": task.fence}
