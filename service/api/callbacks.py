"""``/api/v1/callbacks``: accept a callback request fast, and report its status."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, jsonify, request, url_for
from marshmallow import EXCLUDE, RAISE, ValidationError

from .. import metrics
from ..attribution import collect, ga_session_cookie
from ..hours import SlotFull, booking_plan
from ..leads import IdempotencyConflict, Lead
from ..leads.admission import NotARepeat, TooManyNumbers
from ..leads.model import QUEUED, SCHEDULED, utcnow
from ..limits import client_ip, limiter, per_ip_limit
from ..logs import set_lead_id
from ..phone import PhoneNumber, PhoneRejected
from ..services import Services, services
from .defences import admission, check_destination_allowed, check_human, too_many_numbers
from .origins import allowed_origin, same_origin
from .problems import Problem, validation
from .schemas import (
    FIELD_ERROR_CODES,
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_KEY_RULE,
    CallbackAccepted,
    CallbackRequest,
)
from .slots import check_call_at, full, now

bp = Blueprint("callbacks", __name__, url_prefix="/api/v1/callbacks")

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_accepted = CallbackAccepted()
# A site's own form may carry fields of its own (CSRF tokens…): ignore them there, but a
# JSON client that sends an unknown field has a bug worth hearing about.
_FORM_SCHEMA = CallbackRequest(unknown=EXCLUDE)
_JSON_SCHEMA = CallbackRequest(unknown=RAISE)


@bp.post("")
@limiter.limit(per_ip_limit, key_func=lambda: "ip:" + client_ip())
def create() -> Response:
    """Validate, store as queued (the store wakes this process's dispatcher), answer 202.
    Never calls the provider."""
    svc = services()
    raw = _body()
    data = _load(raw)
    check_human(svc, data, raw)
    try:
        phone = svc.phone_policy.vet(data["phone"])
    except PhoneRejected as rejected:
        raise validation("phone", rejected.message, rejected.code) from None

    key = _idempotency_key(data)
    # A retry of this client's own request: its key. A repeat of the number is decided with
    # the insert, after the per-address cap (docs/security.md).
    retried = _retried(svc, data, phone.e164, key)
    if retried is not None:
        return retried
    try:
        return _accept(svc, data, phone, key)
    except Problem:
        # A retry racing its original, stored since the key was looked up (taking the slot's
        # last seat, or the number's last attempt): answered as the original was.
        retried = _retried(svc, data, phone.e164, key)
        if retried is not None:
            return retried
        raise


def _accept(svc: Services, data: dict[str, Any], phone: PhoneNumber, key: str | None) -> Response:
    """Check, store and answer a request that is no retry of a stored one."""
    # Before the rate limits, so that choosing a full slot costs the visitor no attempt. The
    # store checks the room again as it books (another visitor may take the last seat).
    moment = now()
    slot = check_call_at(svc, data.get("call_at"), moment)
    rules = admission(svc)
    # A repeat calls nobody: it is not counted against the number (its own client's double
    # click, or anyone's: both must look alike). A first look; the store decides.
    repeat = svc.store.has_open_lead(phone.e164, rules.dedupe_window)
    check_destination_allowed(svc, phone, per_number=not repeat)

    page_url = _clean(data.get("page_url"))
    session_cookie = ga_session_cookie(svc.settings.events.ga4_measurement_id)
    attribution = collect(
        cookie_rngst2=request.cookies.get("rngst2"),
        cookie_ga=request.cookies.get("_ga"),
        copy_rngst2=data.get("rngst2"),
        copy_ga=data.get("ga"),
        client_ip=request.remote_addr,
        user_agent=request.user_agent.string,
        page_url=page_url,
        cookie_ga_session=request.cookies.get(session_cookie) if session_cookie else None,
        copy_ga_session=data.get("ga_session"),
    )
    lead = Lead(
        phone=phone.e164,
        name=_clean(data.get("name")),
        comment=_clean(data.get("comment")),
        page_url=page_url,
        **attribution.values(),
        provider=svc.provider.name,
        idempotency_key=key,
        status=QUEUED,  # the store holds it when the daily budget is spent
        call_at=slot,  # kept: a held lead is booked for it when released
    )
    if data.get("consent"):
        lead.consent_at = utcnow()
        lead.consent_version = svc.settings.consent_version
    try:
        plan = booking_plan(svc.hours, slot, moment)
        try:
            answer, created = svc.store.insert(
                lead, replace(rules, repeat_expected=repeat), plan=plan
            )
        except NotARepeat:  # the lead it repeated closed meanwhile: count it as a fresh one
            check_destination_allowed(svc, phone)
            answer, created = svc.store.insert(lead, rules, plan=plan)
    except SlotFull:
        raise full() from None
    except TooManyNumbers as capped:
        raise too_many_numbers(capped.cap, phone) from None
    except IdempotencyConflict:  # a twin request raced this one with the key
        raise _key_reused() from None
    set_lead_id(answer.id)  # the rest of this request's log lines, the request line included
    if not created:  # a repeat, answered by its lead
        answer = _with_due_time(svc, answer)
    if answer is lead:  # stored as a new lead; not a repeat answered by its lead or an alias
        metrics.lead_accepted(answer.status)
    return _answer(answer, data, status=202 if created else 200)


@bp.get("/<lead_id>")
def status(lead_id: str) -> Response:
    """The lead's public status; the id is the capability, so nothing personal is shown.
    An alias's id (a repeat from another client) shows its own view of the one call."""
    lead = services().store.get_for_visitor(lead_id) if len(lead_id) <= 32 else None
    if lead is None:
        raise Problem(404, "not_found", "Not Found", "No callback request has this id.")
    set_lead_id(lead.id)
    response = jsonify(public(lead))
    response.headers["Cache-Control"] = "no-store"
    return response


def public(lead: Lead) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": lead.id,
        "status": lead.status,
        "created_at": lead.created_at,
    }
    if lead.placed_at:
        body["placed_at"] = lead.placed_at
    # Scheduled: when the call is due. Queued: a retry's time, when later than the request.
    due = lead.scheduled_for
    if due and (lead.status == SCHEDULED or (lead.status == QUEUED and due > lead.created_at)):
        body["scheduled_for"] = due
    result: dict[str, Any] = _accepted.dump(body)
    return result


def _retried(svc: Services, data: dict[str, Any], phone: str, key: str | None) -> Response | None:
    """The answer to a retry of a request whose key names a stored lead (200, as the
    original's), or None."""
    if not key:
        return None
    try:
        existing = svc.store.find_existing(phone=phone, idempotency_key=key, window=timedelta(0))
    except IdempotencyConflict:
        raise _key_reused() from None
    if existing is None:
        return None
    set_lead_id(existing.id)
    return _answer(_with_due_time(svc, existing), data, status=200)


def _with_due_time(svc: Services, lead: Lead) -> Lead:
    """A repeat's lead as the first answer showed it: a scheduled one with when its call is
    due (``scheduled_for``, read from its task)."""
    if lead.status != SCHEDULED:
        return lead
    return svc.store.get(lead.id) or lead


def _key_reused() -> Problem:
    return validation(
        "idempotency_key", "This key was already used for another number.", "key_reused"
    )


def _idempotency_key(data: dict[str, Any]) -> str | None:
    """The header wins over the field; both obey the same pattern."""
    header = request.headers.get("Idempotency-Key")
    if header is None:
        key: str | None = data.get("idempotency_key")
        return key
    # Present but blank is a client bug, not "no key": the retry it meant to guard would call twice.
    header = header.strip()
    if not IDEMPOTENCY_KEY.match(header):
        raise validation("idempotency_key", IDEMPOTENCY_KEY_RULE, "invalid")
    return header


def _body() -> dict[str, Any]:
    if request.mimetype in _FORM_TYPES:
        # A form cannot send null: an empty field is an absent one (an empty call_at is a
        # select's "as soon as possible"), and so is a key of "null" (no key is four letters
        # long), as the document's nullable idempotency_key allows.
        return {
            k: v
            for k, v in request.form.items()
            if v != "" and not (k == "idempotency_key" and v == "null")
        }
    if request.mimetype == "application/json" or request.mimetype.endswith("+json"):
        payload = request.get_json(silent=True)
        if payload is None:
            raise Problem(400, "malformed_json", "Bad Request", "The body is not valid JSON.")
        if not isinstance(payload, dict):
            raise Problem(400, "malformed_json", "Bad Request", "The body must be a JSON object.")
        return payload
    raise Problem(
        415,
        "unsupported_media_type",
        "Unsupported Media Type",
        "Send application/json or an HTML form (application/x-www-form-urlencoded).",
    )


def _load(body: dict[str, Any]) -> dict[str, Any]:
    schema = _FORM_SCHEMA if request.mimetype in _FORM_TYPES else _JSON_SCHEMA
    try:
        data: dict[str, Any] = schema.load(body)
    except ValidationError as exc:
        errors = _flatten(exc.messages)
        first = next(iter(errors))
        raise Problem(
            422,
            "validation_error",
            "The request has invalid fields.",
            f"{first}: {errors[first][0]}",
            errors=errors,
            error_codes={field: FIELD_ERROR_CODES.get(field, "invalid") for field in errors},
        ) from None
    return data


def _flatten(messages: Any) -> dict[str, list[str]]:
    if not isinstance(messages, dict):
        return {"_body": [str(messages)]}
    return {
        str(field): [str(m) for m in (value if isinstance(value, list) else [value])]
        for field, value in messages.items()
    }


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _answer(lead: Lead, data: dict[str, Any], status: int) -> Response:
    if (
        request.mimetype in _FORM_TYPES
        and request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"
    ):
        target = _return_url(data.get("return_to"), lead.id)
        return Response(status=303, headers={"Location": target})
    response = jsonify(public(lead))
    response.status_code = status
    response.headers["Location"] = url_for("callbacks.status", lead_id=lead.id)
    return response


def _return_url(return_to: str | None, lead_id: str) -> str:
    """``return_to`` when it is on an allowed origin (never an open redirect), else our page."""
    # The schema refuses control characters; a Location header must never carry one anyway.
    if return_to and return_to.isprintable():
        parts = urlsplit(return_to)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        if parts.scheme in ("http", "https") and (allowed_origin(origin) or same_origin(origin)):
            separator = "&" if parts.query else "?"
            return return_to + separator + urlencode({"callgate": lead_id})
    return url_for("site.thanks", callgate=lead_id)
