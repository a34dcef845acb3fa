"""Places stored leads with the provider: one attempt per ``place_call`` task, never twice.

The :class:`Dispatcher` gives the claim loop (:mod:`service.tasks.runner`) its handlers:
``place_call`` (this module), ``recheck_agents`` (a lead waiting for a free agent goes back to
the queue) and, for providers that report on their calls, ``poll_call_status``
(:mod:`service.tracking`).
Each outcome is one lifecycle transition that also finishes or re-times the task.

At most once: the lead moves to ``dispatching`` and its task is marked in flight in one commit
before the request leaves; a task lost in flight is settled as placed but unconfirmed.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from . import metrics
from .agents import AgentMonitor, build_monitor
from .config import Settings
from .events.handlers import EventHandlers
from .hours import OfficeHours, booking_plan
from .leads import Lead, LeadStore
from .leads.lifecycle import LeadStatus
from .leads.model import (
    DISPATCHING,
    FAILED,
    PLACED,
    QUEUED,
    SCHEDULED,
    WAITING_FOR_AGENT,
    utcnow,
)
from .phone import mask
from .providers import CallRequest, Provider, ProviderError, tracking
from .tasks import ClaimedTask, NewTask, TaskRunner, backoff, queue
from .tasks.queue import PLACE_CALL, POLL_CALL_STATUS, RECHECK_AGENTS
from .tracking import StatusChecker, first_check

log = logging.getLogger("callgate.dispatch")
UNLIMITED = 2**31
LOST_IN_FLIGHT = "the worker stopped during the provider request; outcome unknown"


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended, and what that makes of the lead."""

    status: LeadStatus  # the lead's new status
    attempt_outcome: str  # placed | retry | failed | unknown
    duration_ms: int
    http_status: int | None = None
    error: str | None = None
    retry_at: datetime | None = None  # a passing failure: when to try again
    check_at: datetime | None = None  # a placement to follow: when to first ask about it
    provider_ref: str | None = None
    confirmed: bool = True
    detail: str | None = None
    destination: str | None = None  # where the agent leg went, for sticky routing


def call_request(lead: Lead) -> CallRequest:
    return CallRequest(
        lead_id=lead.id, phone=lead.phone, name=lead.name, attribution=lead.attribution
    )


class Dispatcher:
    """The task runner of this process, with the call's handlers registered."""

    def __init__(
        self,
        settings: Settings,
        store: LeadStore,
        provider: Provider,
        agents: AgentMonitor | None = None,
        hours: OfficeHours | None = None,
    ) -> None:
        self.settings = settings
        # Checked again when a call falls due: the hours may have changed since it was booked.
        self.hours = hours or OfficeHours.from_settings(settings.hours)
        self.store = store
        self.provider = provider
        # CALLGATE_REQUIRE_AGENT_ONLINE: a lead is placed only when an agent can answer.
        self.agents = agents
        if agents is None and settings.agents.require_online:
            self.agents = build_monitor(settings)
        self.runner = TaskRunner(settings, store)
        # A call is never given up on an error of ours: CALLGATE_MAX_AGE and the lead's own
        # attempts end it (an at-least-once kind's task limit would strand it queued).
        self.runner.register(
            PLACE_CALL, self.place_call, lost=self._lost_in_flight, max_attempts=UNLIMITED
        )
        self.runner.register(RECHECK_AGENTS, self.recheck_agents)
        # Events out (webhooks, alerts, GA4): every worker delivers them.
        EventHandlers(settings, store).register(self.runner)
        self.tracks_calls = tracking(provider) is not None
        if self.tracks_calls:
            checker = StatusChecker(settings, store, provider)
            self.runner.register(POLL_CALL_STATUS, checker.check)

    def start(self) -> None:
        self.runner.start()
        log.info(
            "dispatcher started: provider=%s threads=%d",
            self.provider.name,
            self.settings.dispatch_threads,
        )

    def stop(self, timeout: float = 15.0) -> None:
        """Stop claiming; let in-flight calls finish (up to ``timeout``), then return."""
        self.runner.stop(timeout)

    def run_once(self) -> bool:
        """Claim and run one due task; False when none was due."""
        return self.runner.run_once()

    def reclaim_expired(self) -> tuple[int, int]:
        return self.runner.reclaim_expired()

    # -- place_call ---------------------------------------------------------------------------

    def place_call(self, task: ClaimedTask) -> None:
        """One attempt at the task's lead, with its outcome recorded."""
        lead = self.store.lead_of(task)
        if lead is None or lead.status not in (QUEUED, SCHEDULED):
            # Cancelled (or otherwise moved on) since the task was enqueued.
            self.store.tasks.finish(task, error=f"lead is {lead.status if lead else 'gone'}")
            return
        if lead.status == SCHEDULED:
            # Its time has come: the scheduled call joins the queue. Fenced by the task, as
            # every move here: a holder whose lease ran out (a stalled thread) moves nothing.
            if not self.store.transition(
                lead.id, QUEUED, expect_from=(SCHEDULED,), task=task, keep_task=True
            ):
                self.store.tasks.finish(task, error="the lead is no longer scheduled")
                return
            lead.status = QUEUED
        if self._office_closed(lead, task):
            return
        # CALLGATE_MAX_AGE counts from when the call was due: a lead from 23:40 booked for
        # 09:00 is as fresh at 09:00 as one that arrived then.
        due = queue.due_from(task.payload) or lead.created_at
        if (utcnow() - due).total_seconds() > self.settings.max_age:
            error = f"not placed within {self.settings.max_age:.0f}s"
            self._record(lead, task, Outcome(FAILED, "failed", 0, error=error), source=QUEUED)
            return
        if self.settings.agents.require_online and not self._agent_can_answer(lead, task):
            return
        call = call_request(lead)
        if not self.store.transition(
            lead.id,
            DISPATCHING,
            expect_from=(QUEUED,),
            task=task,
            in_flight=True,
            increment=("attempt_count",),
        ):
            log.warning("lead %s: claim lost before sending", lead.id)
            return
        lead.attempt_count += 1
        started = time.monotonic()
        try:
            placement = metrics.provider_call(self.provider.name, self.provider.place, call)
        except ProviderError as exc:
            failure = self._failure(lead, exc, _ms(started), queue.due_from(task.payload))
            self._record(lead, task, failure)
            if exc.config_fault:
                self._report_fault(exc.message)
            return
        except Exception as exc:
            # A bug in a provider module, perhaps while reading an answer to a request that was
            # sent: the outcome is unknown, so the lead is kept unconfirmed, never resent.
            log.exception("lead %s: provider %s raised", lead.id, self.provider.name)
            exc_error = ProviderError(
                f"internal error: {type(exc).__name__}", retryable=False, outcome_unknown=True
            )
            self._record(lead, task, self._failure(lead, exc_error, _ms(started)))
            return
        detail = json.dumps(placement.detail, ensure_ascii=False) if placement.detail else None
        self._record(
            lead,
            task,
            Outcome(
                PLACED,
                "placed",
                _ms(started),
                http_status=placement.http_status,
                provider_ref=placement.reference,
                detail=detail,
                check_at=first_check(self.settings, self.provider, placement),
                destination=placement.destination,
            ),
        )
        log.info(
            "lead %s placed with %s to %s in %dms (attempt %d)",
            lead.id,
            self.provider.name,
            mask(lead.phone),
            _ms(started),
            lead.attempt_count,
        )

    def _record(
        self, lead: Lead, task: ClaimedTask, outcome: Outcome, source: LeadStatus = DISPATCHING
    ) -> None:
        """The attempt's outcome: one transition, which also finishes or re-times the task."""
        metrics.call_outcome(self.provider.name, outcome.attempt_outcome, lead.created_at)
        now = utcnow()
        values: dict[str, Any] = {"last_error": outcome.error}
        follow = []
        if outcome.status == PLACED:
            values.update(
                placed_at=now, provider_ref=outcome.provider_ref, confirmed=outcome.confirmed
            )
            if outcome.destination:
                values["destination"] = outcome.destination
            if outcome.check_at is not None:
                follow.append(NewTask(POLL_CALL_STATUS, lead.id, outcome.check_at))
        attempt = {
            "started_at": now - timedelta(milliseconds=outcome.duration_ms),
            "duration_ms": outcome.duration_ms,
            "outcome": outcome.attempt_outcome,
            "http_status": outcome.http_status,
            "error": outcome.error,
            "detail": outcome.detail,
        }
        if not self.store.transition(
            lead.id,
            outcome.status,
            expect_from=(source,),
            task=task,
            task_again_at=outcome.retry_at,
            values=values,
            attempt=attempt,
            enqueue=follow,
            provider_ok=outcome.status == PLACED and outcome.confirmed,
        ):
            log.warning("lead %s: lease lost before the outcome was written", lead.id)

    def _failure(
        self, lead: Lead, exc: ProviderError, duration_ms: int, due_from: datetime | None = None
    ) -> Outcome:
        common = Outcome(FAILED, "failed", duration_ms, exc.http_status, exc.message)
        if exc.config_fault:
            log.error(
                "lead %s: CONFIGURATION FAULT at %s: %s", lead.id, self.provider.name, exc.message
            )
        if exc.outcome_unknown:
            # The request may have reached the provider: at most once beats twice.
            log.warning("lead %s: %s; recorded as placed, unconfirmed", lead.id, exc.message)
            return replace(common, status=PLACED, attempt_outcome="unknown", confirmed=False)
        if exc.retryable and lead.attempt_count < self.settings.max_attempts:
            delay = backoff(
                lead.attempt_count,
                self.settings.retry_base,
                self.settings.retry_cap,
                self.runner.rng,
            )
            if exc.retry_after is not None:
                delay = max(delay, exc.retry_after)
            due = utcnow() + timedelta(seconds=delay)
            if (due - (due_from or lead.created_at)).total_seconds() <= self.settings.max_age:
                log.warning(
                    "lead %s: %s; retry %d in %.1fs",
                    lead.id,
                    exc.message,
                    lead.attempt_count + 1,
                    delay,
                )
                return replace(common, status=QUEUED, attempt_outcome="retry", retry_at=due)
        log.error(
            "lead %s: failed after %d attempt(s): %s", lead.id, lead.attempt_count, exc.message
        )
        return common

    def _office_closed(self, lead: Lead, task: ClaimedTask) -> bool:
        """True, the call booked again from the next opening (the lead ``scheduled``), when
        the office is closed now: the hours, holidays or special hours changed since the call
        was booked, or a queued call outlived the day. Never dials into an empty office.

        Booked as a visitor's call is, under the bookings lock: calls that fall due together
        after closing are spread over the slots with room, not all put in the first."""
        now = utcnow()
        if not self.hours.closes or self.hours.is_open(now):
            return False
        plan = booking_plan(self.hours, None, now)
        if plan is None or self.hours.next_opening(now) is None:
            return False  # it opens on none of the days ahead: better called now than never
        if self.store.transition(lead.id, SCHEDULED, expect_from=(QUEUED,), task=task, book=plan):
            booked = self.store.get(lead.id)
            log.info(
                "lead %s: the office is closed at its call time; booked for %s",
                lead.id,
                booked.scheduled_for.astimezone(self.hours.zone).isoformat()
                if booked and booked.scheduled_for
                else "?",
            )
        elif not self.store.tasks.finish(task, error="the lead is no longer queued"):
            log.warning("lead %s: lease lost while booking its call again", lead.id)
        return True

    def _report_fault(self, message: str) -> None:
        """Shown by every web process's /readyz until a call succeeds; after the outcome is
        written, so that a failure here cannot leave the lead in flight."""
        try:
            self.store.state.set_provider_fault(message)
        except SQLAlchemyError:
            log.exception("the provider's configuration fault could not be recorded")

    def _lost_in_flight(self, task: ClaimedTask) -> None:
        """A worker died during the provider request: placed, unconfirmed, never resent."""
        metrics.call_outcome(self.provider.name, "unknown")
        assert task.lead_id is not None
        if not self.store.transition(
            task.lead_id,
            PLACED,
            expect_from=(DISPATCHING,),
            task=task,
            values={"confirmed": False, "placed_at": utcnow(), "last_error": LOST_IN_FLIGHT},
            attempt={"outcome": "unknown", "error": LOST_IN_FLIGHT},
        ):
            self.store.tasks.finish(task, error=LOST_IN_FLIGHT)

    # -- agents -------------------------------------------------------------------------------

    def _agent_can_answer(self, lead: Lead, task: ClaimedTask) -> bool:
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
            self.runner.rng,
        )
        # The payload carries when the call was due (CALLGATE_MAX_AGE) to the next place_call.
        recheck = NewTask(
            RECHECK_AGENTS, lead.id, utcnow() + timedelta(seconds=delay), task.payload
        )
        if self.store.transition(
            lead.id,
            WAITING_FOR_AGENT,
            expect_from=(QUEUED,),
            task=task,
            increment=("agent_checks",),
            enqueue=[recheck],
        ):
            log.info(
                "lead %s: no agent online and free%s; re-check in %.1fs",
                lead.id,
                "" if snapshot is not None else " (status unknown)",
                delay,
            )
        else:
            log.warning("lead %s: lease lost while waiting for an agent", lead.id)
        return False

    def recheck_agents(self, task: ClaimedTask) -> None:
        """A waiting lead's re-check fell due: back to the queue, where the check runs again."""
        assert task.lead_id is not None
        if not self.store.transition(
            task.lead_id,
            QUEUED,
            expect_from=(WAITING_FOR_AGENT,),
            task=task,
            enqueue=[NewTask(PLACE_CALL, task.lead_id, payload=task.payload)],
        ):
            self.store.tasks.finish(task, error="the lead is no longer waiting")


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
