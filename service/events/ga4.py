"""GA4 Measurement Protocol: a server-side ``generate_lead`` for an accepted lead, and later a
``callgate_call_connected`` when the provider reports the call connected.

``POST {endpoint}/mp/collect?measurement_id=…&api_secret=…`` with the visitor's ``_ga``
client id, so the lead joins the visit in GA4 reports (and its session, when the
``_ga_<stream>`` cookie was read). No client id, no event; with CALLGATE_REQUIRE_CONSENT,
only leads that gave consent. The API secret travels in the query: the URL is never logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from ..config import EventSettings, Settings
from .http import Outbound, shared
from .outbox import DeliveryResult, refused
from .payload import field

log = logging.getLogger("callgate.events.ga4")

COLLECT_PATH = "/mp/collect"
LEAD_EVENT = "generate_lead"
CONNECTED_EVENT = "callgate_call_connected"
LEAD_SOURCE = "callback"
# GA4's limits for Measurement Protocol events (standard properties).
MAX_NAME = 40
MAX_VALUE = 100
MAX_PARAMS = 25


def lead_event(settings: Settings, lead: object) -> dict[str, Any] | None:
    """The ``generate_lead`` request body for a lead, or ``None`` when none may be sent."""
    return _event(settings, lead, LEAD_EVENT, at=_created_at(lead))


def connected_event(
    settings: Settings, lead: object, *, at: datetime | None = None
) -> dict[str, Any] | None:
    """The ``callgate_call_connected`` body, for when the provider says the call connected."""
    return _event(settings, lead, CONNECTED_EVENT, at=at or datetime.now(UTC))


def collect_url(settings: EventSettings) -> str:
    """The Measurement Protocol URL, secret included: send it, never log it."""
    query = urlencode(
        {"measurement_id": settings.ga4_measurement_id, "api_secret": settings.ga4_api_secret}
    )
    return f"{settings.ga4_endpoint}{COLLECT_PATH}?{query}"


def send_ga4(
    settings: Settings,
    body: Mapping[str, Any],
    *,
    attempt: int = 1,
    elapsed: float | None = None,
    client: Outbound | None = None,
) -> DeliveryResult:
    """POST one event body; 2xx delivers, anything else is retried on the outbox schedule."""
    events = settings.events
    if not events.ga4_enabled:
        log.error("GA4 event not sent: CALLGATE_GA4_MEASUREMENT_ID is no longer set")
        return refused("GA4 is not configured")
    client = client or shared(events.connect_timeout, events.read_timeout)
    result = client.post(
        collect_url(events),
        json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8"),
        {"Content-Type": "application/json"},
        attempt=attempt,
        elapsed=elapsed,
    )
    names = ",".join(str(event.get("name")) for event in body.get("events", ()))
    if result.delivered:
        log.info("GA4 %s sent: %s", names, result.detail)
    else:
        log.warning("GA4 %s try %d: %s (%s)", names, attempt, result.detail, result.outcome)
    return result


def limit_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Names cut to 40 characters, string values to 100, at most 25 parameters; no nulls."""
    limited: dict[str, Any] = {}
    for name, value in params.items():
        if value is None or len(limited) >= MAX_PARAMS:
            continue
        limited[name[:MAX_NAME]] = value[:MAX_VALUE] if isinstance(value, str) else value
    return limited


def _event(
    settings: Settings, lead: object, name: str, *, at: datetime | None
) -> dict[str, Any] | None:
    events = settings.events
    if not events.ga4_enabled:
        return None
    client_id = field(lead, "client_id")
    if not client_id:
        return None  # GA4 would count a new, unattributed user: worse than nothing
    if settings.require_consent and field(lead, "consent_at") is None:
        return None
    session_id = field(lead, "ga_session_id")
    params = limit_params(
        {
            "lead_source": LEAD_SOURCE,
            # GA4 counts an event into a session only with its id, and into "engaged"
            # reporting only with some engagement time: 1 ms is the documented minimum.
            "session_id": str(session_id) if session_id else None,
            "engagement_time_msec": 1,
            "page_location": field(lead, "page_url"),
        }
    )
    body: dict[str, Any] = {"client_id": str(client_id)[:MAX_VALUE]}
    if at is not None:
        body["timestamp_micros"] = micros(at)
    body["events"] = [{"name": name[:MAX_NAME], "params": params}]
    return body


def micros(at: datetime) -> int:
    """Unix microseconds, exactly (a float product can be a microsecond off)."""
    return int(at.astimezone(UTC).timestamp()) * 1_000_000 + at.microsecond


def _created_at(lead: object) -> datetime | None:
    created = field(lead, "created_at")
    if isinstance(created, datetime):
        return created if created.tzinfo else created.replace(tzinfo=UTC)
    return None
