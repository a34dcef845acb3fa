"""Places stored leads with the provider: claim, call, record, back off, never twice.

A :class:`Dispatcher` runs a small pool of threads, either inside each web process
(``CALLGATE_DISPATCHER=inline``) or in ``callgate worker`` processes (``external``). New leads
wake a thread at once: in-process through :meth:`Dispatcher.notify`, across processes through
PostgreSQL ``LISTEN/NOTIFY``. A poll every ``CALLGATE_DISPATCH_POLL`` seconds picks up retries
that fall due and leases whose worker died.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from dataclasses import replace
from datetime import timedelta

from .config import Settings
from .leads import Lead, LeadStore, Outcome
from .leads.model import FAILED, PLACED, QUEUED, utcnow
from .phone import mask
from .providers import CallRequest, Provider, ProviderError, tracking
from .tracking import StatusChecker, first_check

log = logging.getLogger("callgate.dispatch")


def call_request(lead: Lead) -> CallRequest:
    return CallRequest(
        lead_id=lead.id,
        phone=lead.phone,
        name=lead.name,
        client_ip=lead.client_ip,
        user_agent=lead.user_agent,
        utm_source=lead.utm_source,
        utm_medium=lead.utm_medium,
        utm_campaign=lead.utm_campaign,
        utm_term=lead.utm_term,
        utm_content=lead.utm_content,
        client_id=lead.client_id,
    )


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with jitter: between half and all of ``base * 2**(attempt-1)``."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return float(ceiling * (0.5 + rng.random() / 2))


class Dispatcher:
    def __init__(self, settings: Settings, store: LeadStore, provider: Provider) -> None:
        self.settings = settings
        self.store = store
        self.provider = provider
        self._wake = threading.Semaphore(0)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._rng = random.Random()  # noqa: S311 - jitter, not secrecy
        self.config_fault: str | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._threads:
            return
        for n in range(self.settings.dispatch_threads):
            thread = threading.Thread(target=self._run, name=f"callgate-dispatch-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        if self.store.is_postgres:
            listener = threading.Thread(target=self._listen, name="callgate-listen", daemon=True)
            listener.start()
            self._threads.append(listener)
        self._start_status_checker()
        log.info(
            "dispatcher started: provider=%s threads=%d",
            self.provider.name,
            self.settings.dispatch_threads,
        )

    def stop(self, timeout: float = 15.0) -> None:
        """Let in-flight calls finish (up to ``timeout``), then return."""
        self._stop.set()
        for _ in self._threads:
            self._wake.release()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    def notify(self) -> None:
        """A lead was stored: wake one idle thread now rather than at the next poll."""
        self._wake.release()

    # -- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        lease = timedelta(seconds=self.settings.dispatch_lease)
        while not self._stop.is_set():
            try:
                self.store.reclaim_expired()
                while not self._stop.is_set() and self.run_once(lease):
                    pass
            except Exception:
                log.exception("dispatch loop error; retrying after the poll interval")
                self._stop.wait(self.settings.dispatch_poll)
                continue
            self._wake.acquire(timeout=self.settings.dispatch_poll)

    def run_once(self, lease: timedelta | None = None) -> bool:
        """Claim and dispatch one due lead; False when none was due."""
        claimed = self.store.claim(lease or timedelta(seconds=self.settings.dispatch_lease))
        if not claimed:
            return False
        self.dispatch(claimed[0])
        return True

    def dispatch(self, lead: Lead) -> None:
        """One attempt at one claimed lead, with its outcome recorded."""
        age = (utcnow() - lead.created_at).total_seconds()
        if age > self.settings.max_age:
            self._finish(
                lead,
                Outcome(
                    status=FAILED,
                    attempt_outcome="failed",
                    duration_ms=0,
                    error=f"not placed within {self.settings.max_age:.0f}s",
                ),
            )
            return
        call = call_request(lead)
        if not self.store.mark_in_flight(lead):
            log.warning("lead %s: claim lost before sending", lead.id)
            return
        started = time.monotonic()
        try:
            placement = self.provider.place(call)
        except ProviderError as exc:
            self._finish(lead, self._failure(lead, exc, _ms(started)))
            return
        except Exception as exc:
            # A bug in a provider module: keep the lead, count the attempt, retry later.
            log.exception("lead %s: provider %s raised", lead.id, self.provider.name)
            exc_error = ProviderError(f"internal error: {type(exc).__name__}", retryable=True)
            self._finish(lead, self._failure(lead, exc_error, _ms(started)))
            return
        detail = json.dumps(placement.detail, ensure_ascii=False) if placement.detail else None
        self._finish(
            lead,
            Outcome(
                status=PLACED,
                attempt_outcome="placed",
                duration_ms=_ms(started),
                http_status=placement.http_status,
                provider_ref=placement.reference,
                detail=detail,
                due_at=first_check(self.settings, self.provider, placement),
            ),
        )
        self.config_fault = None
        log.info(
            "lead %s placed with %s to %s in %dms (attempt %d)",
            lead.id,
            self.provider.name,
            mask(lead.phone),
            _ms(started),
            lead.attempt_count,
        )

    def _failure(self, lead: Lead, exc: ProviderError, duration_ms: int) -> Outcome:
        common = Outcome(
            status=FAILED,
            attempt_outcome="failed",
            duration_ms=duration_ms,
            http_status=exc.http_status,
            error=exc.message,
        )
        if exc.config_fault:
            self.config_fault = exc.message
            log.error(
                "lead %s: CONFIGURATION FAULT at %s: %s", lead.id, self.provider.name, exc.message
            )
        if exc.outcome_unknown:
            # The request may have reached the provider: at most once beats twice.
            log.warning("lead %s: %s; recorded as placed, unconfirmed", lead.id, exc.message)
            return replace(common, status=PLACED, attempt_outcome="unknown", confirmed=False)
        if exc.retryable and lead.attempt_count < self.settings.max_attempts:
            delay = backoff(
                lead.attempt_count, self.settings.retry_base, self.settings.retry_cap, self._rng
            )
            if exc.retry_after is not None:
                delay = max(delay, exc.retry_after)
            due = utcnow() + timedelta(seconds=delay)
            if (due - lead.created_at).total_seconds() <= self.settings.max_age:
                log.warning(
                    "lead %s: %s; retry %d in %.1fs",
                    lead.id,
                    exc.message,
                    lead.attempt_count + 1,
                    delay,
                )
                return replace(common, status=QUEUED, attempt_outcome="retry", due_at=due)
        log.error(
            "lead %s: failed after %d attempt(s): %s", lead.id, lead.attempt_count, exc.message
        )
        return common

    def _start_status_checker(self) -> None:
        """For providers that report on their calls: follow placed leads to their end."""
        if tracking(self.provider) is None:
            return
        checker = StatusChecker(self.settings, self.store, self.provider)
        thread = threading.Thread(
            target=checker.run, args=(self._stop,), name="callgate-status", daemon=True
        )
        thread.start()
        self._threads.append(thread)

    def _finish(self, lead: Lead, outcome: Outcome) -> None:
        if not self.store.finish(lead, outcome):
            log.warning("lead %s: lease lost before the outcome was written", lead.id)

    def _listen(self) -> None:
        """Wake on PostgreSQL NOTIFY from any instance; reconnect if the server restarts."""
        import psycopg

        url = self.store.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        while not self._stop.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute("LISTEN callgate_leads")
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=self.settings.dispatch_poll):
                            self._wake.release()
            except psycopg.Error:
                log.warning("LISTEN connection lost; reconnecting")
                self._stop.wait(1.0)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
