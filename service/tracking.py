"""Following placed calls to their end, for providers that report on them (RingCentral).

After a placement the dispatcher gives the lead a due time (:func:`first_check`). A
:class:`StatusChecker` thread claims placed leads that fall due, asks the provider, and moves
the lead to ``connected`` or ``failed`` (with the provider's reason), or asks again after
``CALLGATE_STATUS_POLL_INTERVAL`` — for at most ``CALLGATE_STATUS_POLL_FOR`` after placing,
after which the lead stays ``placed`` with a note. :func:`cancel_lead` is the operator's stop.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from . import metrics
from .config import Settings
from .leads import Lead, LeadStore, checks
from .leads.model import PLACED, QUEUED, utcnow
from .providers import Placement, Provider, ProviderError, tracking

log = logging.getLogger("callgate.tracking")


def first_check(settings: Settings, provider: Provider, placement: Placement) -> datetime | None:
    """When to first ask about a new placement; None when the provider cannot be asked."""
    if placement.reference and tracking(provider) is not None:
        return utcnow() + timedelta(seconds=settings.status_poll_interval)
    return None


class StatusChecker:
    def __init__(self, settings: Settings, store: LeadStore, provider: Provider) -> None:
        self.settings = settings
        self.store = store
        self.provider = provider
        tracker = tracking(provider)
        if tracker is None:
            raise TypeError(f"provider {provider.name} does not report on its calls")
        self.tracker = tracker

    def run(self, stop: threading.Event) -> None:
        """Check due leads until ``stop`` is set; idle for the dispatch poll between rounds."""
        while not stop.is_set():
            try:
                while not stop.is_set() and self.check_once():
                    pass
            except Exception:
                log.exception("status check loop error; retrying after the poll interval")
            stop.wait(self.settings.dispatch_poll)

    def check_once(self) -> bool:
        """Check one due placed lead; False when none was due."""
        hold = timedelta(seconds=self.settings.dispatch_lease)
        lead = checks.claim_check(self.store, hold)
        if lead is None:
            return False
        self.check(lead)
        return True

    def check(self, lead: Lead) -> None:
        """Ask the provider about one claimed lead and record what it says."""
        settings = self.settings
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
                self._record(lead, PLACED, due_in=delay)
            else:
                log.warning("lead %s: status unknown, no longer asking: %s", lead.id, exc.message)
                self._record(lead, PLACED, error=f"call status unknown: {exc.message}")
            return
        if state.final:
            metrics.call_ended(self.provider.name, state.status)
            self._record(lead, state.status, provider_status=state.raw, error=state.reason)
            log.info("lead %s %s via %s (%s)", lead.id, state.status, self.provider.name, state.raw)
        elif out_of_time:
            note = f"no final call status within {settings.status_poll_for:.0f}s"
            log.warning("lead %s: %s (%s)", lead.id, note, state.raw)
            self._record(lead, PLACED, provider_status=state.raw, error=note)
        else:
            self._record(
                lead, PLACED, due_in=settings.status_poll_interval, provider_status=state.raw
            )

    def _record(
        self,
        lead: Lead,
        status: str,
        *,
        due_in: float | None = None,
        provider_status: str | None = None,
        error: str | None = None,
    ) -> None:
        due = utcnow() + timedelta(seconds=due_in) if due_in is not None else None
        written = checks.record_check(
            self.store,
            lead,
            status=status,
            due_at=due,
            provider_status=provider_status,
            error=error,
        )
        if not written:
            log.info("lead %s changed during the status check; left as it is now", lead.id)


class CancelRefused(Exception):
    """The lead cannot be cancelled; ``str()`` says why, for the operator."""


def cancel_lead(store: LeadStore, provider: Provider, lead_id: str) -> str:
    """Stop a lead: a queued one is never called; a ringing one is hung up where the provider
    can (RingCentral ``DELETE``). Returns what was done; raises :class:`CancelRefused`.
    """
    lead = store.get(lead_id)
    if lead is None:
        raise CancelRefused(f"no lead {lead_id}")
    if lead.status == QUEUED:
        if checks.cancel(store, lead_id, "cancelled by an operator before it was placed"):
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
    checks.cancel(store, lead_id, "cancelled by an operator while ringing")
    return f"lead {lead_id}: call cancelled"
