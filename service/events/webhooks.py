"""Standard Webhooks deliveries, signed with the ``standardwebhooks`` package.

A :class:`WebhookDelivery` is made once per event and URL, with its ``webhook-id``; every
retry sends the same id and the same body, newly timestamped and signed, so a receiver can
de-duplicate (at least once). Store it in the task's payload with :meth:`to_payload`.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook

from ..config import Settings
from .alerts import Alert, alert_for, service_alert
from .http import Outbound, host_of, shared
from .outbox import DeliveryResult, refused
from .payload import describe, encode, ping_event

log = logging.getLogger("callgate.events.webhooks")


@dataclass(frozen=True)
class WebhookDelivery:
    """One message to one URL. ``payload`` is the exact JSON text that is signed and sent."""

    webhook_id: str
    url: str
    type: str
    payload: str

    def to_payload(self) -> dict[str, str]:
        """A JSON-able dict for the task's payload column."""
        return {
            "webhook_id": self.webhook_id,
            "url": self.url,
            "type": self.type,
            "payload": self.payload,
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> WebhookDelivery:
        return cls(
            webhook_id=str(data["webhook_id"]),
            url=str(data["url"]),
            type=str(data["type"]),
            payload=str(data["payload"]),
        )


def new_webhook_id() -> str:
    """``msg_`` and 128 random bits: unique per delivery, the receiver's de-duplication key."""
    return "msg_" + secrets.token_urlsafe(16)


def deliveries_for(settings: Settings, body: Mapping[str, Any]) -> list[WebhookDelivery]:
    """One delivery per configured URL, or none when this event type is not wanted."""
    events = settings.events
    event_type = str(body["type"])
    if event_type != "ping" and event_type not in events.webhook_events:
        return []
    payload = encode(body)
    return [
        WebhookDelivery(new_webhook_id(), url, event_type, payload) for url in events.webhook_urls
    ]


def ping_deliveries(settings: Settings) -> list[WebhookDelivery]:
    """``callgate webhooks test``: a ``ping`` to every URL."""
    return deliveries_for(settings, ping_event())


def signed_headers(secret: str, delivery: WebhookDelivery, at: datetime) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` for one try."""
    at = at.astimezone(UTC)
    signature = Webhook(secret).sign(delivery.webhook_id, at, delivery.payload)
    return {
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "Content-Type": "application/json",
    }


def deliver_webhook(
    settings: Settings,
    delivery: WebhookDelivery,
    *,
    attempt: int = 1,
    elapsed: float | None = None,
    client: Outbound | None = None,
    now: datetime | None = None,
) -> DeliveryResult:
    """Send one try. ``attempt`` counts from 1; ``elapsed`` is seconds since the first try.

    2xx: delivered. Anything else, a timeout or a refused connection: retry, with the delay of
    :func:`~.outbox.retry_in`, until 24 hours have gone by; then failed (the caller alerts).
    """
    events = settings.events
    if not events.webhook_secret:
        result = refused("no CALLGATE_WEBHOOK_SECRET")
    elif delivery.url not in events.webhook_urls:
        # Removed from CALLGATE_WEBHOOK_URL since: the site owner no longer wants it there.
        result = refused(f"{host_of(delivery.url)} is no longer configured")
    else:
        client = client or shared(events.connect_timeout, events.read_timeout)
        headers = signed_headers(events.webhook_secret, delivery, now or datetime.now(UTC))
        result = client.post(
            delivery.url,
            delivery.payload.encode("utf-8"),
            headers,
            attempt=attempt,
            elapsed=elapsed,
        )
    what = f"webhook {delivery.webhook_id} ({describe_payload(delivery)})"
    if result.delivered:
        log.info("%s delivered: %s", what, result.detail)
    elif result.outcome == "retry":
        log.warning("%s try %d: %s; next in %.0fs", what, attempt, result.detail, result.retry_in)
    else:
        log.error("%s failed, try %d: %s", what, attempt, result.detail)
    return result


def failure_alert(delivery: WebhookDelivery, result: DeliveryResult) -> Alert:
    """The ``webhook_failed`` alert for a delivery given up on: who, which event, why."""
    reason = f"{delivery.type} {delivery.webhook_id} to {host_of(delivery.url)}: {result.detail}"
    try:
        data = json.loads(delivery.payload).get("data")
    except (ValueError, AttributeError):
        data = None
    if isinstance(data, dict) and data.get("id"):
        return alert_for(data, "webhook_failed", reason=reason)
    return service_alert("webhook_failed", reason)


def describe_payload(delivery: WebhookDelivery) -> str:
    """Type and lead id of a delivery, for logs."""
    try:
        return describe(json.loads(delivery.payload))
    except ValueError:
        return delivery.type
