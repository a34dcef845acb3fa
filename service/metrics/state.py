"""Metrics read from the store and the limiter when ``/metrics`` is scraped, not counted.

The queue (tasks by kind and state, the age of the oldest due task) and the daily budget are
facts of the database, the same whichever process is asked; so they are asked once per scrape
by the process that answers it, through small functions the collector is given. Today the
queue is the ``leads`` table (:func:`leads_queue`); the task queue of the lead lifecycle
replaces that one function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, or_, select

from ..leads import LeadStore
from ..leads.model import DISPATCHING, PLACED, QUEUED, WAITING_FOR_AGENT, Lead, utcnow

KINDS = ("place_call", "recheck_agents", "poll_call_status")
STATES = ("due", "scheduled", "running")


@dataclass(frozen=True)
class QueueSnapshot:
    """Tasks waiting or running, counted by (kind, state); the oldest due task's age by kind."""

    tasks: dict[tuple[str, str], int] = field(default_factory=dict)
    oldest_due_seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Budget:
    """Calls counted today against ``CALLGATE_DAILY_CALL_BUDGET`` (0: no budget)."""

    used: int
    budget: int


def leads_queue(store: LeadStore, now: datetime | None = None) -> QueueSnapshot:
    """The queue as the ``leads`` table holds it: a queued lead is a ``place_call`` task (running
    while dispatching), a lead waiting for an agent a ``recheck_agents`` one, a placed lead with
    a due time a ``poll_call_status`` one. Due when its due time (or creation) has come.
    """
    now = now or utcnow()
    leads = Lead.__table__.c
    kind = case(
        (leads.status == WAITING_FOR_AGENT, "recheck_agents"),
        (leads.status == PLACED, "poll_call_status"),
        else_="place_call",
    )
    state = case(
        (leads.status == DISPATCHING, "running"),
        (or_(leads.due_at.is_(None), leads.due_at <= now), "due"),
        else_="scheduled",
    )
    since = func.min(func.coalesce(leads.due_at, leads.created_at))
    query = (
        select(kind.label("kind"), state.label("state"), func.count(), since)
        .where(
            or_(
                leads.status.in_((QUEUED, WAITING_FOR_AGENT, DISPATCHING)),
                (leads.status == PLACED) & leads.due_at.is_not(None),
            )
        )
        .group_by(kind, state)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    tasks: dict[tuple[str, str], int] = {}
    oldest: dict[str, float] = {}
    for row_kind, row_state, count, earliest in rows:
        tasks[(row_kind, row_state)] = int(count)
        if row_state == "due" and earliest is not None:
            oldest[row_kind] = max(0.0, (now - _aware(earliest)).total_seconds())
    return QueueSnapshot(tasks, oldest)


def daily_budget(store: LeadStore, budget: int, now: datetime | None = None) -> Budget:
    """Today's (UTC) calls, counted up to the budget, as the budget check counts them."""
    if budget <= 0:
        return Budget(used=0, budget=0)
    midnight = (now or utcnow()).replace(hour=0, minute=0, second=0, microsecond=0)
    return Budget(used=store.calls_since(midnight, up_to=budget), budget=budget)


def _aware(value: datetime | str) -> datetime:
    # min() over a coalesce comes back as text on SQLite.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class StateCollector(Collector):
    """Gauges computed at scrape time from the functions it is given."""

    def __init__(
        self,
        queue: Callable[[], QueueSnapshot],
        budget: Callable[[], Budget],
        degraded: Callable[[], bool],
    ) -> None:
        self._queue = queue
        self._budget = budget
        self._degraded = degraded

    def collect(self) -> Iterator[Metric]:
        snapshot = self._queue()
        tasks = GaugeMetricFamily(
            "callgate_tasks",
            "Tasks waiting (due or scheduled) or running, by kind and state.",
            labels=["kind", "state"],
        )
        for kind in KINDS:
            for state in STATES:
                tasks.add_metric([kind, state], snapshot.tasks.get((kind, state), 0))
        yield tasks
        oldest = GaugeMetricFamily(
            "callgate_tasks_oldest_due_age_seconds",
            "How long the oldest due task of each kind has been due (0: none is due).",
            labels=["kind"],
        )
        for kind in KINDS:
            oldest.add_metric([kind], snapshot.oldest_due_seconds.get(kind, 0.0))
        yield oldest
        budget = self._budget()
        yield GaugeMetricFamily(
            "callgate_daily_budget_calls",
            "CALLGATE_DAILY_CALL_BUDGET: calls a day before new leads are held (0: no budget).",
            value=budget.budget,
        )
        yield GaugeMetricFamily(
            "callgate_daily_budget_used_ratio",
            "Share of today's (UTC) call budget used, 0 to 1 (0 without a budget).",
            value=budget.used / budget.budget if budget.budget else 0.0,
        )
        yield GaugeMetricFamily(
            "callgate_ratelimit_storage_degraded",
            "1 while the shared rate-limit storage does not answer and this instance enforces "
            "its stricter in-memory limits.",
            value=1.0 if self._degraded() else 0.0,
        )
