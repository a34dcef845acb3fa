"""Marshmallow schemas: what the HTTP API accepts and returns (also the source of /openapi.json)."""

from __future__ import annotations

import re

from marshmallow import Schema, fields, validate

from ..attribution import SPECS
from ..config import CAPTCHAS
from ..hours import CallAtProblem
from ..leads.model import STATUSES

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_\-:.]{8,128}$")
IDEMPOTENCY_KEY_RULE = "Use 8 to 128 letters, digits, '-', '_', ':' or '.'."
# What PhonePolicy lets through around the digits (ASCII whitespace only); documented in
# /openapi.json, enforced by PhonePolicy so refusals keep their phone_* codes.
PHONE_CHARACTERS = r"^[0-9+()\-./ \t\n\r\f\v]*$"
LEAD_ID = r"^[A-Za-z0-9_-]{1,32}$"
_KEY = validate.Regexp(IDEMPOTENCY_KEY, error=IDEMPOTENCY_KEY_RULE)
# A field the schema refuses gets code "invalid" in error_codes, unless it has its own here.
FIELD_ERROR_CODES = {"call_at": CallAtProblem.INVALID.value}
CALL_AT_EXAMPLE = "2026-12-01T09:00:00+02:00"


# PostgreSQL text cannot hold NUL: refuse it here (422) rather than fail at INSERT (500).
_NO_NUL = validate.Regexp(r"^[^\x00]*$", error="Must not contain NUL characters.")


# A URL that becomes a Location header: no CR/LF (header injection) nor other controls.
_NO_CONTROL = validate.Regexp(
    r"^[^\x00-\x1f\x7f]*$", error="Must not contain control characters (CR, LF, tab...)."
)


def _text(
    max_length: int, description: str, characters: validate.Regexp = _NO_NUL
) -> fields.String:
    return fields.String(
        validate=[validate.Length(max=max_length), characters],
        allow_none=True,
        load_default=None,
        metadata={"description": description},
    )


class CallbackRequest(Schema):
    """``POST /api/v1/callbacks``: a visitor asks to be called."""

    phone = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={
            "description": "The visitor's number in any human format.",
            "example": "+380 67 111 22 33",
            "pattern": PHONE_CHARACTERS,
        },
    )
    name = _text(100, "How the visitor would like to be addressed.")
    comment = _text(1000, "Anything the visitor adds.")
    page_url = _text(2048, "The page the form was on.")
    return_to = _text(
        2048, "Where a plain HTML form post is sent back (303).", characters=_NO_CONTROL
    )
    idempotency_key = fields.String(
        validate=_KEY,
        allow_none=True,
        load_default=None,
        metadata={"description": "Same key, same lead: a retried submission never calls twice."},
    )
    # The view refuses any value with its own code (honeypot); the document says the same.
    website = fields.String(
        allow_none=True,
        load_default=None,
        metadata={"description": "Honeypot: must be empty.", "maxLength": 0},
    )
    form_token = _text(100, "The signed token from /api/v1/form-token (bot check).")
    captcha_token = _text(4096, "The CAPTCHA response, when CALLGATE_CAPTCHA is set.")
    consent = fields.Boolean(
        allow_none=True,
        load_default=None,
        metadata={"description": "The visitor agreed to be called (CALLGATE_REQUIRE_CONSENT)."},
    )
    rngst2 = _text(4096, "Copy of the rngst2 cookie (cross-domain).")
    ga = _text(256, "Copy of the _ga cookie (cross-domain).")
    ga_session = _text(256, "Copy of GA4's _ga_<stream> session cookie (cross-domain).")
    call_at = fields.AwareDateTime(
        format="iso",
        allow_none=True,
        load_default=None,
        error_messages={
            "invalid": f"Not an ISO 8601 date and time like {CALL_AT_EXAMPLE}.",
            "invalid_awareness": f"Give the offset too, like {CALL_AT_EXAMPLE}.",
        },
        metadata={
            "description": "When to call: the start of a slot from GET /api/v1/slots, ISO 8601 "
            "with an offset. Absent: as soon as possible. Refused (422, error_codes.call_at) "
            f"with {', '.join(p.value for p in CallAtProblem)}.",
            "example": CALL_AT_EXAMPLE,
        },
    )


class CallbackAccepted(Schema):
    """The lead as the visitor's browser may see it: no number, no personal data."""

    id = fields.String(required=True, metadata={"description": "Unguessable lead id."})
    status = fields.String(
        required=True,
        validate=validate.OneOf(STATUSES),
    )
    created_at = fields.DateTime(required=True)
    placed_at = fields.DateTime()
    scheduled_for = fields.DateTime()


# What a lead keeps of the visit, derived from service.attribution (documented in /openapi.json;
# stored with the lead, exported by `callgate leads export`, sent to providers that take it).
AttributionSchema = Schema.from_dict(
    {
        name: fields.String(
            allow_none=True,
            validate=validate.Length(max=spec.length),
            metadata={
                "description": spec.description
                + (" (personal: not exported, erased by purge)" if spec.personal else "")
            },
        )
        for name, spec in SPECS.items()
    },
    name="Attribution",
)


class ProblemSchema(Schema):
    """RFC 9457 problem details."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    code = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    error_codes = fields.Dict(keys=fields.String(), values=fields.String())
    request_id = fields.String()


class FormToken(Schema):
    """``GET /api/v1/form-token``: a signed token for one visit's post."""

    form_token = fields.String(required=True)


class WidgetConfig(Schema):
    """``GET /api/v1/widget-config``: public settings only, nothing secret."""

    lang = fields.String(required=True)
    languages = fields.List(fields.String(), required=True)
    texts = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    default_region = fields.String(required=True)
    countries = fields.List(fields.String(), required=True)
    require_consent = fields.Boolean(required=True)
    form_token_min_age = fields.Float(required=True)
    agents_available = fields.Boolean(required=True)
    captcha = fields.String(required=True, validate=validate.OneOf(CAPTCHAS))
    captcha_site_key = fields.String(required=True)
    captcha_script_url = fields.String(
        required=True,
        metadata={
            "description": "The CAPTCHA vendor's explicit-render script the widget loads "
            "(CALLGATE_CAPTCHA_SCRIPT_URL); empty when captcha is none.",
            "example": "https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit",
        },
    )
    ga4_cookie = fields.String(
        required=True,
        metadata={
            "description": "Name of GA4's session cookie for CALLGATE_GA4_MEASUREMENT_ID, "
            "which the widget copies as ga_session; empty without a measurement id.",
            "example": "_ga_ABC123",
        },
    )
    open_now = fields.Boolean(
        required=True, metadata={"description": "Whether the office is open (office hours)."}
    )
    next_open = fields.AwareDateTime(
        required=True,
        allow_none=True,
        metadata={
            "description": "When the office next opens (after this opening, while open); "
            "null when it never closes."
        },
    )
    timezone = fields.String(
        required=True, metadata={"description": "The office's IANA zone (CALLGATE_TIMEZONE)."}
    )
    captcha_module = fields.String(
        required=True,
        metadata={
            "description": "Path, relative to the service, of the widget's CAPTCHA module "
            "with its version (the module's ETag), which the widget imports; "
            "empty when captcha is none.",
            "example": "/widget-captcha.js?v=3f2a9c0d41b7e6a85c12",
        },
    )
    modules = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={
            "description": "Versioned paths of the modules the widget imports, by name.",
            "example": {"dialog": "/widget-dialog.js?v=3f2a9c0d41b7e6a85c12"},
        },
    )


class SlotSchema(Schema):
    start = fields.AwareDateTime(
        required=True,
        metadata={"description": "ISO 8601 with the office's offset; send it as call_at."},
    )
    remaining = fields.Integer(
        required=True, metadata={"description": "Calls that may still be booked into it."}
    )


class SlotsAnswer(Schema):
    """``GET /api/v1/slots``: what a visitor may book, from now over the booking horizon."""

    timezone = fields.String(
        required=True, metadata={"description": "The office's IANA zone (CALLGATE_TIMEZONE)."}
    )
    slot_minutes = fields.Integer(required=True)
    slots = fields.List(fields.Nested(SlotSchema), required=True)


class Health(Schema):
    status = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.String())
