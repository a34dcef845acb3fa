"""A lead's statuses and the moves between them, declared once (DESIGN §8).

:data:`TRANSITIONS` is the whole lifecycle: every status change goes through
:meth:`service.leads.LeadStore.transition`, which refuses a move not in it
(:class:`IllegalTransition`) and writes the others with ``WHERE status IN (allowed sources)``.
The diagram in ``docs/architecture.md`` is rendered from it (:func:`mermaid`).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path


class LeadStatus(StrEnum):
    # A lead is stored in its first real status; "accepted" stays implicit.
    QUEUED = "queued"  # to be called as soon as a worker takes it
    SCHEDULED = "scheduled"  # to be called later (office closed, or a time the visitor chose)
    WAITING_FOR_AGENT = "waiting_for_agent"  # CALLGATE_REQUIRE_AGENT_ONLINE: nobody free yet
    HELD = "held"  # over the daily call budget, until an operator releases it
    DISPATCHING = "dispatching"  # the provider request is in flight
    PLACED = "placed"  # the provider accepted it (or its answer was lost: unconfirmed)
    CONNECTED = "connected"  # the provider reported the call answered
    FAILED = "failed"
    CANCELLED = "cancelled"  # by an operator


S = LeadStatus
#: Where a lead may be stored first.
INITIAL: frozenset[LeadStatus] = frozenset({S.QUEUED, S.SCHEDULED, S.HELD})

#: from -> the statuses it may move to. Nothing else is ever written.
TRANSITIONS: dict[LeadStatus, frozenset[LeadStatus]] = {
    # scheduled: the office closed before the call was placed (checked at dial time).
    S.QUEUED: frozenset({S.DISPATCHING, S.SCHEDULED, S.WAITING_FOR_AGENT, S.FAILED, S.CANCELLED}),
    # queued: its place_call task fell due while the office is open (then dispatching).
    S.SCHEDULED: frozenset({S.QUEUED, S.FAILED, S.CANCELLED}),
    S.WAITING_FOR_AGENT: frozenset({S.QUEUED, S.FAILED, S.CANCELLED}),
    # Released by an operator: queued, or scheduled for the time its visitor chose.
    S.HELD: frozenset({S.QUEUED, S.SCHEDULED, S.FAILED, S.CANCELLED}),
    # An outcome: placed, a passing failure back to the queue, or a permanent one. Not
    # cancelled: nobody knows yet whether the provider is ringing the visitor.
    S.DISPATCHING: frozenset({S.PLACED, S.QUEUED, S.FAILED}),
    # queued: an operator's retry, allowed for an unconfirmed placement only (a guard the
    # store adds); failed/connected: what the provider reports; cancelled: hung up.
    S.PLACED: frozenset({S.CONNECTED, S.FAILED, S.CANCELLED, S.QUEUED}),
    S.CONNECTED: frozenset(),
    S.FAILED: frozenset({S.QUEUED}),  # an operator's retry
    S.CANCELLED: frozenset(),
}

#: Where a lead ends: its pending call tasks go with it.
ENDED: tuple[LeadStatus, ...] = (S.CONNECTED, S.FAILED, S.CANCELLED)
#: Not called yet, nor being called: an operator may still cancel it, and it keeps its number.
NOT_CALLED_YET: tuple[LeadStatus, ...] = (S.QUEUED, S.SCHEDULED, S.WAITING_FOR_AGENT, S.HELD)
#: Called, or ended: ``callgate leads purge`` may anonymise it (it will not be dialled again).
CALLED_OR_ENDED: tuple[LeadStatus, ...] = (S.PLACED, *ENDED)
#: Statuses in which a lead absorbs a repeat of its request (de-duplication).
OPEN_STATUSES: tuple[LeadStatus, ...] = tuple(
    s for s in LeadStatus if s not in (S.FAILED, S.CANCELLED)
)
STATUSES: tuple[LeadStatus, ...] = tuple(LeadStatus)


class IllegalTransition(Exception):
    """A status change the lifecycle does not allow; nothing was written."""

    def __init__(self, source: LeadStatus | None, target: LeadStatus) -> None:
        super().__init__(f"a lead cannot move from {source or 'anywhere'} to {target}")
        self.source, self.target = source, target


def allowed(source: LeadStatus, target: LeadStatus) -> bool:
    return target in TRANSITIONS[source]


def sources(target: LeadStatus, expect_from: tuple[LeadStatus, ...] = ()) -> tuple[LeadStatus, ...]:
    """The statuses a lead may be in to move to ``target`` (those of ``expect_from`` only, when
    given); raises :class:`IllegalTransition` for a move not in the table."""
    if expect_from:
        for source in expect_from:
            if not allowed(source, target):
                raise IllegalTransition(source, target)
        return expect_from
    found = tuple(s for s in LeadStatus if allowed(s, target))
    if not found:
        raise IllegalTransition(None, target)
    return found


def mermaid() -> str:
    """The lifecycle as a Mermaid state diagram, rendered from :data:`TRANSITIONS`."""
    lines = ["stateDiagram-v2"]
    lines += [f"    [*] --> {status}" for status in LeadStatus if status in INITIAL]
    for source, targets in TRANSITIONS.items():
        lines += [f"    {source} --> {target}" for target in LeadStatus if target in targets]
        if not targets:
            lines.append(f"    {source} --> [*]")
    return "\n".join(lines) + "\n"


def write_diagram(page: Path) -> None:
    """Replace the ``mermaid`` block of ``page`` by the diagram of :data:`TRANSITIONS`."""
    text = page.read_text()
    start = text.index("```mermaid\n") + len("```mermaid\n")
    end = text.index("```", start)
    page.write_text(text[:start] + mermaid() + text[end:])
