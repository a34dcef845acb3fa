"""The task handlers of events out: ``deliver_webhook``, ``send_alert``, ``send_ga4_event``.

Each rebuilds its input from the task's payload, makes one try and records the
:class:`~.outbox.DeliveryResult` on the task: delivered, done; ``retry``, due again after
``retry_in`` (the attempts are the task's own, so each destination backs off alone); ``failed``,
given up (a webhook's failure alerts people, in the same transaction).

Alerts are grouped across processes: a channel sends at most one message a minute. The task
that may send (its channel's slot taken in ``service_state``) takes over every alert pending
for the channel and sends them as one message with the count; one that may not waits for the
slot, its attempt given back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from ..config import Settings
from ..leads import LeadStore
from ..leads.model import utcnow
from ..tasks import ClaimedTask, NewTask, TaskRunner
from ..tasks.grouping import gather, hand_over
from ..tasks.queue import DELIVER_WEBHOOK, SEND_ALERT, SEND_GA4_EVENT
from .alerts import SEND_INTERVAL, Alert, compose
from .emit import alert_outgoing, channel_url
from .ga4 import send_ga4
from .notify import notify
from .outbox import DeliveryResult, refused
from .webhooks import WebhookDelivery, deliver_webhook, failure_alert

log = logging.getLogger("callgate.events")
# service_state key of a channel's last message (its updated_at), followed by the channel key.
ALERT_SENT = "alert_sent:"


class EventHandlers:
    """The handlers, bound to this process's settings and store."""

    def __init__(self, settings: Settings, store: LeadStore) -> None:
        self.settings = settings
        self.store = store

    def register(self, runner: TaskRunner) -> None:
        """Give the claim loop the three kinds (every process registers them, configured or
        not: a task enqueued under other settings is settled, not left without a handler)."""
        runner.register(DELIVER_WEBHOOK, self.deliver_webhook, gave_up=self._webhook_gave_up)
        runner.register(SEND_ALERT, self.send_alert)
        runner.register(SEND_GA4_EVENT, self.send_ga4_event)

    # -- webhooks -----------------------------------------------------------------------------

    def deliver_webhook(self, task: ClaimedTask) -> None:
        """One try of a webhook delivery; the same ``webhook-id`` on every try (the payload)."""
        try:
            delivery = WebhookDelivery.from_payload(task.payload or {})
        except KeyError as exc:
            self._settle(task, refused(f"malformed delivery: no {exc}"))
            return
        result = deliver_webhook(self.settings, delivery, attempt=task.attempts)
        alerts = self._failure_alerts(task, delivery, result) if result.outcome == "failed" else []
        self._settle(task, result, enqueue=alerts)

    def _webhook_gave_up(self, task: ClaimedTask, reason: str) -> list[NewTask]:
        """A delivery whose handler kept raising is given up on: it alerts as a refused one."""
        try:
            delivery = WebhookDelivery.from_payload(task.payload or {})
        except (KeyError, TypeError, ValueError):
            return []
        return self._failure_alerts(task, delivery, DeliveryResult("failed", reason))

    def _failure_alerts(
        self, task: ClaimedTask, delivery: WebhookDelivery, result: DeliveryResult
    ) -> list[NewTask]:
        """The ``webhook_failed`` alert's tasks, one per channel that hears it."""
        alert = failure_alert(delivery, result)
        return [
            NewTask(item.kind, task.lead_id, None, item.payload)
            for item in alert_outgoing(self.settings, alert)
        ]

    # -- GA4 ----------------------------------------------------------------------------------

    def send_ga4_event(self, task: ClaimedTask) -> None:
        """One try of a Measurement Protocol event (its body was built when the lead moved)."""
        body = (task.payload or {}).get("body")
        if not isinstance(body, Mapping):
            self._settle(task, refused("malformed GA4 task: no body"))
            return
        self._settle(task, send_ga4(self.settings, body, attempt=task.attempts))

    # -- alerts -------------------------------------------------------------------------------

    def send_alert(self, task: ClaimedTask) -> None:
        """Every alert pending for the task's channel, as one message, once the channel's
        minute is over."""
        payload = task.payload or {}
        key = str(payload.get("channel", ""))
        url = channel_url(self.settings, key)
        if url is None:
            self._settle(task, refused(f"channel {key} is no longer configured"))
            return

        def same(other: Mapping[str, Any]) -> bool:
            return other.get("channel") == key

        def merge(payloads: list[Mapping[str, Any]]) -> dict[str, Any]:
            return _merge(key, payloads)

        free_at = self.store.state.reserve_slot(ALERT_SENT + key, SEND_INTERVAL)
        if free_at is not None:
            # Another task (any process) sent this channel's message of this minute: this
            # one's alerts join the channel's pending task, or it waits for the minute itself.
            hand_over(self.store.tasks, task, same, merge, free_at)
            return
        merged = gather(self.store.tasks, task, same, merge)
        if merged is None:
            log.warning("alert task %d: lease lost before sending", task.id)
            return
        alerts = [Alert.from_payload(a) for a in merged["alerts"]]
        title, body = compose(alerts, self.settings.events.notify_lang)
        # The attempts of the message, not of the claims that found the minute taken.
        result = notify(url, title, body, attempt=max(1, task.attempts))
        if result.outcome == "retry" and result.retry_in is not None:
            # Not before the channel's next minute, which this try has taken.
            result = DeliveryResult(
                "retry",
                result.detail,
                result.http_status,
                max(result.retry_in, SEND_INTERVAL.total_seconds()),
            )
        self._settle(task, result)

    # -- recording ----------------------------------------------------------------------------

    def _settle(
        self, task: ClaimedTask, result: DeliveryResult, *, enqueue: list[NewTask] | None = None
    ) -> None:
        if result.delivered:
            written = self.store.tasks.finish(task)
        elif result.outcome == "retry":
            due = utcnow() + timedelta(seconds=result.retry_in or 0)
            written = self.store.tasks.retry(task, due, error=result.detail)
        else:
            written = self.store.tasks.finish(
                task, error=result.detail, gave_up=True, enqueue=enqueue or ()
            )
        if not written:
            log.warning(
                "task %d (%s): lease lost before its outcome was written", task.id, task.kind
            )


def _merge(key: str, payloads: list[Mapping[str, Any]]) -> dict[str, Any]:
    """One alert task's payload from several: the channel and every alert, oldest first."""
    alerts: list[Any] = []
    for payload in payloads:
        alerts += payload.get("alerts") or ([payload["alert"]] if payload.get("alert") else [])
    return {"channel": key, "alerts": alerts}
