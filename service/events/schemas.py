"""The webhook event body, declared once as marshmallow schemas.

:func:`service.events.payload.build_event` fills these fields from a lead, and
``/openapi.json`` documents them under ``webhooks``: a field added here appears in both.
"""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from ..config import WEBHOOK_EVENTS

PING = "ping"
EVENT_TYPES = (*WEBHOOK_EVENTS, PING)


def _text(description: str) -> fields.String:
    return fields.String(allow_none=True, metadata={"description": description})


def _time(description: str) -> fields.String:
    # Written by payload.iso(): RFC 3339 in UTC with a Z, e.g. 2026-11-28T10:04:03.123456Z.
    return fields.String(
        allow_none=True, metadata={"description": description, "format": "date-time"}
    )


class _Open(Schema):
    """Receivers must ignore fields they do not know: later versions may add some."""

    class Meta:
        unknown = INCLUDE


class LeadAttributionSchema(_Open):
    """Where the visitor came from, as the widget and the cookies told us."""

    utm_source = _text("utm_source")
    utm_medium = _text("utm_medium")
    utm_campaign = _text("utm_campaign")
    utm_term = _text("utm_term")
    utm_content = _text("utm_content")
    client_id = _text("Google Analytics client id (from the _ga cookie).")
    gclid = _text("Google Ads click id.")
    fbclid = _text("Meta click id.")
    yclid = _text("Yandex click id.")


class LeadDataSchema(_Open):
    """The lead as the site owner's CRM needs it, the visitor's number included."""

    id = fields.String(required=True, metadata={"description": "The lead's id."})
    status = fields.String(required=True, metadata={"description": "The lead's status now."})
    phone = fields.String(
        required=True,
        metadata={"description": "The visitor's number, E.164.", "example": "+380671112233"},
    )
    name = _text("How the visitor would like to be addressed.")
    comment = _text("Anything the visitor added.")
    page_url = _text("The page the form was on.")
    call_at = _time("The time the visitor chose to be called, if any.")
    scheduled_for = _time("When the call is due (office closed or a chosen time).")
    attribution = fields.Nested(LeadAttributionSchema, required=True)
    provider = _text("The telephony provider that places the call.")
    provider_ref = _text("The provider's id for the call, once placed.")
    reason = _text("Why the lead failed, is unconfirmed or is held.")
    attempts = fields.Integer(required=True, metadata={"description": "Calls tried so far."})
    created_at = _time("When the visitor asked.")


class WebhookEventSchema(_Open):
    """One Standard Webhooks message: ``type``, ``timestamp`` and ``data``."""

    type = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    timestamp = fields.String(
        required=True,
        metadata={"description": "When the event happened (UTC).", "format": "date-time"},
    )
    data = fields.Nested(LeadDataSchema, required=True)


class PingDataSchema(_Open):
    message = fields.String(required=True)


class PingEventSchema(_Open):
    """``callgate webhooks test``: proves the URL and the secret, carries no lead."""

    type = fields.String(required=True, validate=validate.OneOf((PING,)))
    timestamp = fields.String(required=True, metadata={"format": "date-time"})
    data = fields.Nested(PingDataSchema, required=True)
