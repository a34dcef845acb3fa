"""The event body for a lead, built by one function from anything lead-like.

A lead may be the stored model, another branch's richer model, or a plain mapping (a test, a
replay): fields it lacks are ``null``. The body carries the visitor's number for the site
owner's CRM, so it is never logged; :func:`describe` says what may be.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .schemas import (
    EVENT_TYPES,
    PING,
    LeadAttributionSchema,
    LeadDataSchema,
    PingEventSchema,
    WebhookEventSchema,
)

_DATA_FIELDS = tuple(LeadDataSchema().fields)
_ATTRIBUTION_FIELDS = tuple(LeadAttributionSchema().fields)
_TIMES = ("call_at", "scheduled_for", "created_at")
_event_schema = WebhookEventSchema()
_ping_schema = PingEventSchema()


def field(lead: object, name: str, default: Any = None) -> Any:
    """``lead.name`` or ``lead[name]``, else ``default``."""
    if isinstance(lead, Mapping):
        return lead.get(name, default)
    return getattr(lead, name, default)


def iso(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC with a ``Z``; naive datetimes are taken as UTC (SQLite)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def lead_data(lead: object) -> dict[str, Any]:
    """The ``data`` of an event: the lead's fields declared in :class:`LeadDataSchema`."""
    data: dict[str, Any] = {}
    for name in _DATA_FIELDS:
        if name == "attribution":
            data[name] = _attribution(lead)
        elif name == "attempts":
            data[name] = _attempts(lead)
        elif name == "reason":
            data[name] = field(lead, "reason") or field(lead, "last_error")
        elif name in _TIMES:
            data[name] = iso(field(lead, name))
        else:
            value = field(lead, name)
            data[name] = None if value is None else str(value)
    return data


def build_event(event_type: str, lead: object, *, at: datetime | None = None) -> dict[str, Any]:
    """``{"type", "timestamp", "data"}`` for ``lead.<status>``; ``at`` defaults to now."""
    if event_type not in EVENT_TYPES or event_type == PING:
        raise ValueError(f"{event_type!r} is not a lead event")
    body = {
        "type": event_type,
        "timestamp": iso(at or datetime.now(UTC)),
        "data": lead_data(lead),
    }
    dumped: dict[str, Any] = _event_schema.dump(body)
    return dumped


def ping_event(*, at: datetime | None = None) -> dict[str, Any]:
    """The ``ping`` a test delivery sends: no lead, no personal data."""
    body = {
        "type": PING,
        "timestamp": iso(at or datetime.now(UTC)),
        "data": {"message": "callgate webhook test"},
    }
    dumped: dict[str, Any] = _ping_schema.dump(body)
    return dumped


def encode(body: Mapping[str, Any]) -> str:
    """The exact text that is signed and sent: compact JSON, UTF-8 as is."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, sort_keys=False)


def describe(body: Mapping[str, Any]) -> str:
    """What may be logged about a body: its type and lead id, nothing personal."""
    data = body.get("data") or {}
    lead_id = data.get("id") if isinstance(data, Mapping) else None
    return f"{body.get('type')} lead={lead_id}" if lead_id else str(body.get("type"))


def _attribution(lead: object) -> dict[str, str | None]:
    # A lead may nest its attribution (a mapping or a value object) or keep it flat.
    nested = field(lead, "attribution")
    found: dict[str, str | None] = {}
    for name in _ATTRIBUTION_FIELDS:
        value = field(nested, name) if nested is not None else None
        if value in (None, ""):
            value = field(lead, name)
        found[name] = None if value in (None, "") else str(value)
    return found


def _attempts(lead: object) -> int:
    # The stored model keeps a count and a list of Attempt rows; a mapping may give either.
    count = field(lead, "attempt_count")
    if isinstance(count, int):
        return count
    attempts = field(lead, "attempts")
    if isinstance(attempts, int):
        return attempts
    try:
        return len(attempts)
    except TypeError:
        return 0
