"""Places stored leads with the provider: claim, call, record, back off, never twice.

A :class:`Dispatcher` runs a small pool of threads, either inside each web process
(``CALLGATE_DISPATCHER=inline``) or in ``callgate worker`` processes (``external``). New leads
wake a thread at once: in-process through :meth:`Dispatcher.notify`, across processes through
PostgreSQL ``LISTEN/NOTIFY`` or, on SQLite, a local doorbell socket (``leads.doorbell``).
A poll every ``CALLGATE_DISPATCH_POLL`` seconds picks up retries that fall due and leases
whose worker died.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

from . import metrics
from .agents import AgentMonitor, build_monitor
from .config import Settings
from .leads import Lead, LeadStore, Outcome
from .leads.model import FAILED, PLACED, QUEUED, utcnow
from .phone import mask
from .providers import CallRequest, Provider, ProviderError, tracking
from .routing import placed_destination
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
    """One claiming thread and a pool of calling threads.

    The claimer takes as many due leads as there are idle callers, in one transaction, and
    hands them over; so the database sees one claim per batch, not one poll per thread.
    """

    def __init__(
        self,
        settings: Settings,
        store: LeadStore,
        provider: Provider,
        agents: AgentMonitor | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.provider = provider
        # CALLGATE_REQUIRE_AGENT_ONLINE: a lead is placed only when an agent can answer.
        self.agents = agents
        if agents is None and settings.agents.require_online:
            self.agents = build_monitor(settings)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pool: ThreadPoolExecutor | None = None
        self._idle = threading.Semaphore(settings.dispatch_threads)
        self._rng = random.Random()  # noqa: S311 - jitter, not secrecy
        self.config_fault: str | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._threads:
            return
        self._stop.clear()
        self._pool = ThreadPoolExecutor(self.settings.dispatch_threads, "callgate-call")
        self._spawn(self._claim_loop, "callgate-claim")
        if self.store.is_postgres:
            self._spawn(self._listen, "callgate-listen")
        elif self.store.doorbell is not None and self.settings.dispatcher == "external":
            # A worker of its own: the web processes that store leads ring for it.
            self._spawn(self._listen_doorbell, "callgate-doorbell")
        self._start_status_checker()
        log.info(
            "dispatcher started: provider=%s threads=%d",
            self.provider.name,
            self.settings.dispatch_threads,
        )

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop claiming; let in-flight calls finish (up to ``timeout``), then return."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()
        if self._pool is not None:
            # Calls already handed over finish; a lead still waiting for a caller keeps its
            # claim until the lease expires and then goes back to the queue, unsent.
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def notify(self) -> None:
        """A lead was stored: claim now rather than at the next poll."""
        self._wake.set()

    # -- the loop -----------------------------------------------------------------------------

    def _claim_loop(self) -> None:
        lease = timedelta(seconds=self.settings.dispatch_lease)
        next_reclaim = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_reclaim:
                    self.store.reclaim_expired()
                    self.store.release_waiting()
                    next_reclaim = time.monotonic() + self.settings.dispatch_poll
                self._wake.clear()
                if self._claim_batch(lease):
                    continue
            except Exception:
                log.exception("dispatch loop error; retrying after the poll interval")
            self._wake.wait(self.settings.dispatch_poll)

    def _claim_batch(self, lease: timedelta) -> bool:
        """Claim up to the number of idle callers; True if any lead was handed over."""
        if not self._idle.acquire(timeout=self.settings.dispatch_poll):
            return False  # every caller is busy
        idle = 1
        while idle < self.settings.dispatch_threads and self._idle.acquire(blocking=False):
            idle += 1
        claimed = self.store.claim(lease, limit=idle)
        for _ in range(idle - len(claimed)):
            self._idle.release()
        assert self._pool is not None
        for lead in claimed:
            self._pool.submit(self._call, lead)
        return bool(claimed)

    def _call(self, lead: Lead) -> None:
        try:
            self.dispatch(lead)
        except Exception:
            log.exception("lead %s: dispatch failed; its lease will return it", lead.id)
        finally:
            self._idle.release()
            self._wake.set()

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
        if self.settings.agents.require_online and not self._agent_can_answer(lead):
            return
        call = call_request(lead)
        if not self.store.mark_in_flight(lead):
            log.warning("lead %s: claim lost before sending", lead.id)
            return
        started = time.monotonic()
        try:
            placement = metrics.provider_call(self.provider.name, self.provider.place, call)
        except ProviderError as exc:
            self._finish(lead, self._failure(lead, exc, _ms(started)))
            return
        except Exception as exc:
            # A bug in a provider module, perhaps while reading an answer to a request that was
            # sent: the outcome is unknown, so the lead is kept unconfirmed, never resent.
            log.exception("lead %s: provider %s raised", lead.id, self.provider.name)
            exc_error = ProviderError(
                f"internal error: {type(exc).__name__}", retryable=False, outcome_unknown=True
            )
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
        metrics.config_fault(self.provider.name, False)
        destination = placed_destination(self.settings, placement)
        if destination:
            self.store.record_destination(lead.id, destination)
        log.info(
            "lead %s placed with %s to %s in %dms (attempt %d)",
            lead.id,
            self.provider.name,
            mask(lead.phone),
            _ms(started),
            lead.attempt_count,
        )

    def _agent_can_answer(self, lead: Lead) -> bool:
        """True when an agent is online and not speaking; else park the lead and say False.

        An unknown status (Ringostat unreachable) counts as nobody: the rule is "only when".
        The wait is not an attempt; re-checks back off up to ``CALLGATE_AGENT_RECHECK_CAP``.
        """
        snapshot = self.agents.current_or_fetch() if self.agents is not None else None
        if snapshot is not None and snapshot.free(self.settings.agents.logins):
            return True
        delay = backoff(
            lead.agent_checks + 1,
            self.settings.retry_base,
            self.settings.agents.recheck_cap,
            self._rng,
        )
        if self.store.wait_for_agent(lead, utcnow() + timedelta(seconds=delay)):
            log.info(
                "lead %s: no agent online and free%s; re-check in %.1fs",
                lead.id,
                "" if snapshot is not None else " (status unknown)",
                delay,
            )
        else:
            log.warning("lead %s: lease lost while waiting for an agent", lead.id)
        return False

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
            metrics.config_fault(self.provider.name, True)
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
        self._spawn(lambda: checker.run(self._stop), "callgate-status")

    def _finish(self, lead: Lead, outcome: Outcome) -> None:
        metrics.call_outcome(self.provider.name, outcome.attempt_outcome, lead.created_at)
        if not self.store.finish(lead, outcome):
            log.warning("lead %s: lease lost before the outcome was written", lead.id)

    def _listen_doorbell(self) -> None:
        """Wake when a web process on this machine stores a lead (SQLite)."""
        assert self.store.doorbell is not None
        while not self._stop.is_set():
            try:
                self.store.doorbell.listen(self._wake.set, self._stop)
                return
            except OSError:
                log.exception("doorbell failed; new leads wait for the poll until it is back")
                self._stop.wait(5.0)

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
                            self._wake.set()
            except psycopg.Error:
                log.warning("LISTEN connection lost; reconnecting")
                self._stop.wait(1.0)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
