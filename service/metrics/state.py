"""Metrics read from the store and the limiter when ``/metrics`` is scraped, not counted.

The queue (tasks by kind and state, the age of the oldest due task) and the daily budget are
facts of the database, the same whichever process is asked; so they are asked once per scrape
by the process that answers it, through small functions the collector is given: the queue is
the ``tasks`` table (:func:`tasks_queue`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select

from ..leads import LeadStore
from ..leads.model import Task, utcnow
from ..tasks.queue import PENDING, RUNNING

# Shown at 0 when none is queued; any other kind in the table is shown as it comes.
KINDS = (
    "place_call",
    "recheck_agents",
    "poll_call_status",
    "deliver_webhook",
    "send_alert",
    "send_ga4_event",
)
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


def tasks_queue(store: LeadStore, now: datetime | None = None) -> QueueSnapshot:
    """The ``tasks`` table: pending tasks are due (their time has come) or scheduled, leased
    ones running; done and given-up ones are history, not queue."""
    now = now or utcnow()
    tasks = Task.__table__.c
    state = case(
        (tasks.state == RUNNING, "running"),
        (tasks.due_at <= now, "due"),
        else_="scheduled",
    )
    query = (
        select(tasks.kind, state.label("state"), func.count(), func.min(tasks.due_at))
        .where(tasks.state.in_((PENDING, RUNNING)))
        .group_by(tasks.kind, state)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    counts: dict[tuple[str, str], int] = {}
    oldest: dict[str, float] = {}
    for kind, row_state, count, earliest in rows:
        counts[(kind, row_state)] = int(count)
        if row_state == "due" and earliest is not None:
            oldest[kind] = max(0.0, (now - _aware(earliest)).total_seconds())
    return QueueSnapshot(counts, oldest)


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
        provider_fault: Callable[[], tuple[str, bool]] = lambda: ("", False),
    ) -> None:
        self._queue = queue
        self._budget = budget
        self._degraded = degraded
        self._provider_fault = provider_fault

    def collect(self) -> Iterator[Metric]:
        snapshot = self._queue()
        tasks = GaugeMetricFamily(
            "callgate_tasks",
            "Tasks waiting (due or scheduled) or running, by kind and state.",
            labels=["kind", "state"],
        )
        kinds = sorted(set(KINDS) | {kind for kind, _ in snapshot.tasks})
        for kind in kinds:
            for state in STATES:
                tasks.add_metric([kind, state], snapshot.tasks.get((kind, state), 0))
        yield tasks
        oldest = GaugeMetricFamily(
            "callgate_tasks_oldest_due_age_seconds",
            "How long the oldest due task of each kind has been due (0: none is due).",
            labels=["kind"],
        )
        for kind in kinds:
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
        provider, faulty = self._provider_fault()
        fault = GaugeMetricFamily(
            "callgate_provider_config_fault",
            "1 while the provider refuses our configuration (credentials, project, callee), "
            "until a call succeeds.",
            labels=["provider"],
        )
        fault.add_metric([provider], 1.0 if faulty else 0.0)
        yield fault
