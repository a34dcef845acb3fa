"""The abuse defences a callback request passes before anything is stored or dialled.

Order matters: cheap, stateless checks first (honeypot, form token, consent), then the ones
that cost a round trip (CAPTCHA verification, the database). Each refusal is a problem that
names the field or the limit, never a silent drop.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import request

from ..captcha import CaptchaRejected
from ..leads.admission import Admission
from ..limits import LimitExceeded, check_destination
from ..phone import PhoneNumber, digest, mask
from ..services import Services
from ..tokens import TokenRejected, verify
from .problems import Problem, validation

log = logging.getLogger("callgate.defences")

# The widget's field names, and the ones Turnstile and hCaptcha give their form fields.
CAPTCHA_FIELDS = ("captcha_token", "cf-turnstile-response", "h-captcha-response")


def check_human(svc: Services, data: dict[str, Any], raw: dict[str, Any]) -> None:
    """Honeypot, signed form token, CAPTCHA and consent."""
    settings = svc.settings
    if data.get("website"):
        raise validation("website", "Must be empty.", "honeypot")
    if settings.form_token_required:
        try:
            verify(
                data.get("form_token"),
                settings.secret_key,
                settings.form_token_min_age,
                settings.form_token_max_age,
            )
        except TokenRejected as rejected:
            raise validation("form_token", rejected.message, rejected.code) from None
    if svc.captcha.enabled:
        response = next((str(raw[f]) for f in CAPTCHA_FIELDS if raw.get(f)), None)
        try:
            svc.captcha.verify(response, request.remote_addr)
        except CaptchaRejected as rejected:
            if rejected.unavailable:
                raise Problem(
                    503,
                    rejected.code,
                    "Service Unavailable",
                    rejected.message,
                    headers={"Retry-After": "5"},
                ) from None
            raise validation("captcha_token", rejected.message, rejected.code) from None
    if settings.require_consent and not data.get("consent"):
        raise validation("consent", "Agree to be called before sending.", "consent_required")


def check_destination_allowed(svc: Services, phone: PhoneNumber, per_number: bool = True) -> None:
    """The blocklist, the distinct-numbers-per-address cap (a first look: the store decides,
    see :func:`admission`), and the rate limits (``per_number`` False: not the number's, for
    a repeat that de-duplication will absorb)."""
    settings = svc.settings
    if digest(phone.e164, settings.secret_key) in svc.store.blocklist:
        raise validation("phone", "This number cannot be called.", "phone_blocked")
    if settings.max_numbers_per_ip:
        _check_numbers_per_address(svc, phone, settings.max_numbers_per_ip)
    try:
        check_destination(settings, phone.e164, phone.region, per_number)
    except LimitExceeded as exc:
        target = {"phone": "to this number", "country": "to this country"}.get(
            exc.scope, "right now"
        )
        raise Problem(
            429,
            "rate_limited",
            "Too many requests.",
            f"Too many call requests {target}; try again in {exc.retry_after} seconds.",
            headers={"Retry-After": str(exc.retry_after)},
        ) from None


def _check_numbers_per_address(svc: Services, phone: PhoneNumber, cap: int) -> None:
    """At most ``cap`` different numbers from one client an hour: call bombing. A read
    before the rate limits, so that a request the cap refuses takes nothing from them. The
    store keys the address as the per-address limits do (an IPv6 client by its network)."""
    client_ip = request.remote_addr or "unknown"
    if svc.store.over_numbers_cap(client_ip, phone.e164, cap):
        raise too_many_numbers(cap, phone)


def too_many_numbers(cap: int, phone: PhoneNumber) -> Problem:
    """The 429 of the distinct-numbers-per-address cap (logged: call bombing?)."""
    client_ip = request.remote_addr or "unknown"
    log.warning(
        "call bombing? %s asked for more than %d numbers in an hour (now %s)",
        client_ip,
        cap,
        mask(phone.e164),
    )
    return Problem(
        429,
        "too_many_numbers",
        "Too many requests.",
        f"This address asked for calls to {cap} different numbers in the last "
        "hour; try again later.",
        headers={"Retry-After": "3600"},
    )


def admission(svc: Services) -> Admission:
    """The rules the store decides in the lead's own write transaction: the per-address cap,
    de-duplication (``CALLGATE_DEDUPE_WINDOW``) and the daily budget (over it: held)."""
    settings = svc.settings
    return Admission(
        max_numbers_per_ip=settings.max_numbers_per_ip,
        dedupe_window=timedelta(seconds=settings.dedupe_window),
        daily_call_budget=settings.daily_call_budget,
    )
