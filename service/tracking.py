"""Following placed calls to their end, for providers that report on them (RingCentral).

A placement enqueues a ``poll_call_status`` task (:func:`first_check` says when). Its handler,
:meth:`StatusChecker.check`, asks the provider and moves the lead to ``connected`` or
``failed`` (with the provider's reason), or asks again after ``CALLGATE_STATUS_POLL_INTERVAL``
— for at most ``CALLGATE_STATUS_POLL_FOR`` after placing, after which the lead stays ``placed``
with a note. :func:`cancel_lead` is the operator's stop.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from . import metrics
from .config import Settings
from .leads import LeadStatus, LeadStore
from .leads.lifecycle import NOT_CALLED_YET
from .leads.model import CANCELLED, PLACED, utcnow
from .providers import Placement, Provider, ProviderError, tracking
from .tasks import ClaimedTask

log = logging.getLogger("callgate.tracking")
MOVED_ON = "the lead is no longer placed"


def first_check(settings: Settings, provider: Provider, placement: Placement) -> datetime | None:
    """When to first ask about a new placement; None when the provider cannot be asked."""
    if placement.reference and tracking(provider) is not None:
        return utcnow() + timedelta(seconds=settings.status_poll_interval)
    return None


class StatusChecker:
    """The ``poll_call_status`` handler: one question to the provider per task."""

    def __init__(self, settings: Settings, store: LeadStore, provider: Provider) -> None:
        self.settings = settings
        self.store = store
        self.provider = provider
        tracker = tracking(provider)
        if tracker is None:
            raise TypeError(f"provider {provider.name} does not report on its calls")
        self.tracker = tracker

    def check(self, task: ClaimedTask) -> None:
        """Ask the provider about the task's placed lead and record what it says."""
        settings = self.settings
        lead = self.store.lead_of(task)
        if lead is None or lead.status != PLACED or not lead.provider_ref:
            self.store.tasks.finish(task, error=MOVED_ON)
            return
        placed_at = lead.placed_at or lead.created_at
        out_of_time = (utcnow() - placed_at).total_seconds() >= settings.status_poll_for
        try:
            state = self.tracker.status(Placement(reference=lead.provider_ref))
        except ProviderError as exc:
            if exc.retryable and not out_of_time:
                delay = max(settings.status_poll_interval, exc.retry_after or 0.0)
                log.warning(
                    "lead %s: status check: %s; again in %.0fs", lead.id, exc.message, delay
                )
                self._again(task, delay, error=exc.message)
            else:
                log.warning("lead %s: status unknown, no longer asking: %s", lead.id, exc.message)
                unknown = {"last_error": f"call status unknown: {exc.message}"}
                self._note(task, unknown, error=exc.message)
            return
        if state.final:
            values = {"provider_status": state.raw, "last_error": state.reason}
            if not self.store.transition(
                lead.id, LeadStatus(state.status), expect_from=(PLACED,), task=task, values=values
            ):
                log.info("lead %s changed during the status check; left as it is now", lead.id)
                self.store.tasks.finish(task, error=MOVED_ON)  # fenced: a lost lease writes nothing
                return
            metrics.call_ended(self.provider.name, state.status)
            log.info("lead %s %s via %s (%s)", lead.id, state.status, self.provider.name, state.raw)
        elif out_of_time:
            note = f"no final call status within {settings.status_poll_for:.0f}s"
            log.warning("lead %s: %s (%s)", lead.id, note, state.raw)
            values = {"provider_status": state.raw, "last_error": note}
            self._note(task, values, error=note)
        else:
            due = utcnow() + timedelta(seconds=settings.status_poll_interval)
            self._note(task, {"provider_status": state.raw}, again_at=due)

    def _note(
        self,
        task: ClaimedTask,
        values: dict[str, Any],
        again_at: datetime | None = None,
        error: str | None = None,
    ) -> None:
        """What the provider said of the placed call, with the task done or due again; if the
        lead moved on meanwhile (an operator cancelled it), nothing of it, the task done."""
        if not self.store.note(task, PLACED, values, again_at=again_at, error=error):
            log.info("task %d: the lead moved on, or the lease was lost, during the check", task.id)
            self.store.tasks.finish(task, error=MOVED_ON)  # fenced: a lost lease writes nothing

    def _again(self, task: ClaimedTask, delay: float, error: str) -> None:
        due = utcnow() + timedelta(seconds=delay)
        if not self.store.tasks.retry(task, due, error=error):
            log.info("task %d: lease lost during the status check", task.id)


class CancelRefused(Exception):
    """The lead cannot be cancelled; ``str()`` says why, for the operator."""


def cancel_lead(store: LeadStore, provider: Provider, lead_id: str) -> str:
    """Stop a lead: a queued one is never called; a ringing one is hung up where the provider
    can (RingCentral ``DELETE``). Returns what was done; raises :class:`CancelRefused`.
    """
    lead = store.get(lead_id)
    if lead is None:
        raise CancelRefused(f"no lead {lead_id}")
    if lead.status in NOT_CALLED_YET:
        reason = {"last_error": "cancelled by an operator before it was placed"}
        if store.transition(lead_id, CANCELLED, expect_from=NOT_CALLED_YET, values=reason):
            return f"lead {lead_id} cancelled before it was placed"
        raise CancelRefused(f"lead {lead_id} is being placed right now; try again")
    if lead.status != PLACED:
        raise CancelRefused(f"lead {lead_id} is {lead.status}: nothing to cancel")
    tracker = tracking(provider)
    if tracker is None or not lead.provider_ref:
        raise CancelRefused(f"provider {provider.name} cannot cancel a call once placed")
    try:
        tracker.cancel(Placement(reference=lead.provider_ref))
    except ProviderError as exc:
        raise CancelRefused(f"lead {lead_id}: {exc.message}") from None
    reason = {"last_error": "cancelled by an operator while ringing"}
    if not store.transition(lead_id, CANCELLED, expect_from=(PLACED,), values=reason):
        ended = store.get(lead_id)
        return f"lead {lead_id}: call hung up; it had ended meanwhile ({ended and ended.status})"
    return f"lead {lead_id}: call cancelled"
