"""Prometheus metrics: what callgate counts, as one-line calls from the code that does it.

The counters and histograms are built on first use, not at import: ``prometheus_client``
decides when it is imported whether values live in this process or in per-process files
(``PROMETHEUS_MULTIPROC_DIR``), and the launchers (``callgate serve``, ``callgate worker``,
``gunicorn.conf.py``) choose the directory after ``service`` is imported (see
:mod:`service.metrics.files`). Nothing here may import ``prometheus_client`` at module level.

Values read from the store when scraped (tasks, the oldest due task, the daily budget, the
rate-limit storage) are in :mod:`service.metrics.state`; the exposition is
:mod:`service.metrics.exposition`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Histogram

T = TypeVar("T")

# Seconds. Visitor requests answer in milliseconds; provider calls and speed to lead in seconds.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PROVIDER_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SPEED_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)
# Known up front so that alerts on increase() see a zero before the first failure.
DELIVERY_KINDS = ("webhook", "notify", "ga4")
# The task kinds that deliver events, and the kind of delivery each is.
DELIVERY_TASKS = {"deliver_webhook": "webhook", "send_alert": "notify", "send_ga4_event": "ga4"}
# Attempt outcomes (dispatch) and a tracked call's end (RingCentral): a bounded label. A value
# outside these is counted as "other": counting must never fail the work it counts.
OUTCOMES = ("placed", "retry", "failed", "unknown", "connected", "not_connected")
OTHER = "other"


class _Metrics:
    """Every metric this process writes, in a registry of its own (not the global default)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry: CollectorRegistry = CollectorRegistry()
        r = self.registry
        self.accepted: Counter = Counter(
            "callgate_leads_accepted",
            "Callback requests stored as new leads, by the status they were stored in.",
            ["status"],
            registry=r,
        )
        self.refused: Counter = Counter(
            "callgate_leads_refused",
            "Callback requests refused, by problem code (or the refused field's code).",
            ["code"],
            registry=r,
        )
        self.outcomes: Counter = Counter(
            "callgate_call_outcomes",
            "Ends of call attempts (placed, retry, failed, unknown) and of tracked calls "
            "(connected, not_connected), by provider.",
            ["provider", "outcome"],
            registry=r,
        )
        self.request_seconds: Histogram = Histogram(
            "callgate_http_request_duration_seconds",
            "Time to answer an HTTP request, by Flask endpoint.",
            ["endpoint"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.speed_to_lead: Histogram = Histogram(
            "callgate_speed_to_lead_seconds",
            "From a lead's creation to the provider's acceptance of its call.",
            ["provider"],
            buckets=SPEED_BUCKETS,
            registry=r,
        )
        self.provider_seconds: Histogram = Histogram(
            "callgate_provider_request_duration_seconds",
            "Time the provider took to answer a call request, by result (ok or error).",
            ["provider", "result"],
            buckets=PROVIDER_BUCKETS,
            registry=r,
        )
        self.deliveries_failed: Counter = Counter(
            "callgate_deliveries_failed",
            "Event deliveries (webhook, notification, GA4) that failed for good.",
            ["kind"],
            registry=r,
        )
        for kind in DELIVERY_KINDS:
            self.deliveries_failed.labels(kind)


_built: _Metrics | None = None
_building = threading.Lock()


def _metrics() -> _Metrics:
    # Built once per process under a lock: two sets of metrics in one process would each
    # write their own running total to the same slot of the process's file, losing counts.
    global _built
    if _built is None:
        with _building:
            if _built is None:
                _built = _Metrics()
    return _built


def registry() -> CollectorRegistry:
    """This process's own metrics (the exposition reads files instead in multiprocess mode)."""
    return _metrics().registry


# -- the calls the rest of the service makes --------------------------------------------------


def lead_accepted(status: str) -> None:
    """A callback request was stored as a new lead in ``status`` (queued, held…)."""
    _metrics().accepted.labels(status).inc()


def lead_refused(code: str) -> None:
    """A callback request was answered with a problem whose code is ``code``."""
    _metrics().refused.labels(code).inc()


def request_finished(endpoint: str, seconds: float) -> None:
    _metrics().request_seconds.labels(endpoint).observe(seconds)


def provider_call(provider: str, place: Callable[..., T], *args: Any) -> T:
    """Call ``place(*args)`` and time it as a request to ``provider``; exceptions pass through."""
    started = time.perf_counter()
    try:
        result = place(*args)
    except Exception:
        _metrics().provider_seconds.labels(provider, "error").observe(time.perf_counter() - started)
        raise
    _metrics().provider_seconds.labels(provider, "ok").observe(time.perf_counter() - started)
    return result


def call_outcome(provider: str, outcome: str, created_at: datetime | None = None) -> None:
    """One attempt ended: placed, retry, failed or unknown. A placed call's speed to lead is
    the time since ``created_at``, the lead's creation."""
    m = _metrics()
    outcome = outcome if outcome in OUTCOMES else OTHER
    m.outcomes.labels(provider, outcome).inc()
    if outcome == "placed" and created_at is not None:
        seconds = (datetime.now(UTC) - created_at).total_seconds()
        m.speed_to_lead.labels(provider).observe(max(0.0, seconds))


def call_ended(provider: str, status: str) -> None:
    """A tracked call (RingCentral) reached its end: ``connected``, or anything else."""
    call_outcome(provider, "connected" if status == "connected" else "not_connected")


def task_gave_up(task_kind: str) -> None:
    """A task ran out of attempts: a failed delivery when it was one (calls are counted by
    their outcomes)."""
    if task_kind in DELIVERY_TASKS:
        delivery_failed(DELIVERY_TASKS[task_kind])


def delivery_failed(kind: str) -> None:
    """An event delivery (webhook, notify, ga4) gave up."""
    kind = kind if kind in DELIVERY_KINDS else OTHER
    _metrics().deliveries_failed.labels(kind).inc()
