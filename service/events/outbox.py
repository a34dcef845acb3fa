"""One delivery model for every channel: a result, and one retry schedule for up to 24 hours.

Each send (webhook, alert, GA4 event) is a task on the lead queue. Its handler makes one try
and returns a :class:`DeliveryResult`; the queue records it and, for ``retry``, runs the task
again after ``retry_in`` seconds. A ``failed`` delivery is final: an alert says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Delays after the 1st, 2nd… failed try: the Standard Webhooks specification's suggestion
# (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), the last one cut at the horizon.
RETRY_SCHEDULE: tuple[float, ...] = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
GIVE_UP_AFTER = 24 * 3600.0
MAX_TRIES = len(RETRY_SCHEDULE) + 1

Outcome = Literal["delivered", "retry", "failed"]


@dataclass(frozen=True)
class DeliveryResult:
    """What one try came to. ``detail`` is short and safe to log or store: no body, no secret."""

    outcome: Outcome
    detail: str = ""
    http_status: int | None = None
    retry_in: float | None = None  # seconds, when outcome is "retry"

    @property
    def delivered(self) -> bool:
        return self.outcome == "delivered"


def retry_in(tries: int, elapsed: float | None = None) -> float | None:
    """Seconds until the next try after ``tries`` failed ones, or ``None``: give up.

    ``elapsed`` is the time since the first try; by default the schedule's own sum, so a
    queue that keeps only a count gets the same answer. No try goes past 24 hours.
    """
    if tries < 1:
        raise ValueError("tries counts failed tries: at least 1")
    if tries > len(RETRY_SCHEDULE):
        return None
    if elapsed is None:
        elapsed = sum(RETRY_SCHEDULE[: tries - 1])
    remaining = GIVE_UP_AFTER - elapsed
    if remaining <= 0:
        return None
    return float(min(RETRY_SCHEDULE[tries - 1], remaining))


def delivered(detail: str, http_status: int | None = None) -> DeliveryResult:
    return DeliveryResult("delivered", detail, http_status)


def not_delivered(
    detail: str, *, attempt: int, elapsed: float | None = None, http_status: int | None = None
) -> DeliveryResult:
    """``retry`` while the schedule allows another try after this ``attempt``, else ``failed``."""
    wait = retry_in(attempt, elapsed)
    if wait is None:
        return DeliveryResult("failed", detail, http_status)
    return DeliveryResult("retry", detail, http_status, wait)


def refused(detail: str, http_status: int | None = None) -> DeliveryResult:
    """A failure no retry can mend (a malformed delivery, a URL no longer configured)."""
    return DeliveryResult("failed", detail, http_status)
