"""What a lead's move sends out: the one place that maps statuses to events, alerts and GA4.

The lead queue's transition hook calls :func:`outgoing` inside the transition's transaction
and enqueues each :class:`Outgoing` as a task of its ``kind``. Payloads are plain JSON and hold
no secret: an alert names its channel by key (the Apprise URL stays in the environment).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..config import Settings
from ..tasks.queue import DELIVER_WEBHOOK, SEND_ALERT, SEND_GA4_EVENT
from .alerts import Alert, alert_for, service_alert, wanted
from .ga4 import connected_event, lead_event
from .notify import channel_key
from .payload import build_event, field
from .webhooks import deliveries_for

__all__ = ["DELIVER_WEBHOOK", "SEND_ALERT", "SEND_GA4_EVENT", "Outgoing", "outgoing"]

# A lead's status -> the event it emits on entering it. Statuses not named emit nothing
# (queued after a wait, waiting_for_agent, dispatching, cancelled).
STATUS_EVENTS = {
    "scheduled": "lead.scheduled",
    "held": "lead.held",
    "placed": "lead.placed",
    "connected": "lead.connected",
    "failed": "lead.failed",
}


@dataclass(frozen=True)
class Outgoing:
    """One task to enqueue: its kind and its JSON payload."""

    kind: str
    payload: dict[str, Any]


def events_for(lead: object, status: str, *, created: bool = False) -> tuple[str, ...]:
    """The webhook event types of a lead entering ``status`` (``created``: it was just stored).

    A new lead is ``lead.accepted``, then whatever its first status says (scheduled, held). A
    call placed without the provider's answer (``confirmed`` false) is ``lead.unconfirmed``.
    """
    found = ["lead.accepted"] if created else []
    event = STATUS_EVENTS.get(str(status))
    if event == "lead.placed" and field(lead, "confirmed", True) is False:
        event = "lead.unconfirmed"
    if event:
        found.append(event)
    return tuple(found)


def outgoing(
    settings: Settings,
    lead: object,
    status: str,
    *,
    created: bool = False,
    reason: str | None = None,
    at: datetime | None = None,
) -> list[Outgoing]:
    """Every task a lead entering ``status`` asks for: webhooks, alerts, GA4 events."""
    at = at or datetime.now(UTC)
    tasks: list[Outgoing] = []
    for event_type in events_for(lead, status, created=created):
        body = build_event(event_type, lead, at=at)
        tasks += [Outgoing(DELIVER_WEBHOOK, d.to_payload()) for d in deliveries_for(settings, body)]
        kind = event_type.removeprefix("lead.")
        if wanted(settings, kind):
            tasks += _alerts(settings, alert_for(lead, kind, reason=reason, at=at))
        ga4 = (
            lead_event(settings, lead)
            if event_type == "lead.accepted"
            else connected_event(settings, lead, at=at)
            if event_type == "lead.connected"
            else None
        )
        if ga4 is not None:
            tasks.append(Outgoing(SEND_GA4_EVENT, {"body": ga4}))
    return tasks


def service_outgoing(settings: Settings, kind: str, reason: str) -> list[Outgoing]:
    """Alerts about the service itself (``provider_fault``, ``budget``, ``webhook_failed``)."""
    return _alerts(settings, service_alert(kind, reason)) if wanted(settings, kind) else []


def alert_outgoing(settings: Settings, alert: Alert) -> list[Outgoing]:
    """A ready alert (e.g. :func:`~.webhooks.failure_alert`) to every channel, if wanted."""
    return _alerts(settings, alert) if wanted(settings, alert.kind) else []


def _alerts(settings: Settings, alert: Alert) -> list[Outgoing]:
    payload = alert.to_payload()
    return [
        Outgoing(SEND_ALERT, {"channel": channel_key(url), "alert": payload})
        for url in settings.events.notify_urls
    ]


def channel_url(settings: Settings, key: str) -> str | None:
    """The Apprise URL a ``send_alert`` task's channel key stands for (None: removed since)."""
    return next((url for url in settings.events.notify_urls if channel_key(url) == key), None)
