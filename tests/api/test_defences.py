"""Abuse defences: toll fraud, call bombing, bots, consent, personal data."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
import requests_mock
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import text

from service.cli import main
from service.leads import LeadStatus
from service.leads.model import utcnow
from service.phone import digest
from service.tokens import issue
from tests.api.test_callbacks import assert_problem
from tests.conftest import services

URL = "/api/v1/callbacks"
TURNSTILE = "https://challenges.cloudflare.com/turnstile/v0/siteverify"


def post(app: Flask, phone: str = "0671112233", ip: str = "198.51.100.1", **fields: object):  # type: ignore[no-untyped-def]
    return app.test_client().post(
        URL, json={"phone": phone, **fields}, environ_base={"REMOTE_ADDR": ip}
    )


def cli(app: Flask, *args: str) -> str:
    settings = services(app).settings
    result = CliRunner().invoke(
        main,
        list(args),
        env={
            "CALLGATE_DATABASE_URL": settings.database_url,
            "CALLGATE_SECRET_KEY": settings.secret_key,
        },
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_blocked_prefix(make_app: Callable[..., Flask]) -> None:
    app = make_app(blocked_prefixes=("+38089",))
    assert_problem(post(app, "+380891234567"), 422, "phone", "phone_prefix_blocked")
    assert post(app, "+380671234567").status_code == 202


def test_per_country_hourly_cap(make_app: Callable[..., Flask]) -> None:
    app = make_app(limit_per_country="2/hour", allowed_countries=("UA", "PL"))
    assert post(app, "0671112201", ip="198.51.100.1").status_code == 202
    assert post(app, "0671112202", ip="198.51.100.2").status_code == 202
    response = post(app, "0671112203", ip="198.51.100.3")
    body = assert_problem(response, 429)
    assert "to this country" in str(body["detail"])
    assert post(app, "+48512345678", ip="198.51.100.4").status_code == 202


def test_daily_budget_holds_leads_and_loses_none(
    capsys: pytest.CaptureFixture[str], make_app: Callable[..., Flask]
) -> None:
    app = make_app(daily_call_budget=2, dedupe_window=0)
    statuses = [
        post(app, f"067111220{n}", ip=f"198.51.100.{n}").get_json()["status"] for n in range(4)
    ]
    assert statuses == ["queued", "queued", "held", "held"]
    svc = services(app)
    while svc.dispatcher.run_once():
        pass
    assert svc.store.count_by_status() == {"placed": 2, "held": 2}
    assert "ALERT: daily call budget of 2 reached" in capsys.readouterr().err
    assert "2 lead(s) released" in cli(app, "leads", "release", "--all")
    while svc.dispatcher.run_once():
        pass
    assert svc.store.count_by_status() == {"placed": 4}


def test_distinct_numbers_per_address(make_app: Callable[..., Flask]) -> None:
    app = make_app(max_numbers_per_ip=2, dedupe_window=0)
    assert post(app, "0671112201").status_code == 202
    assert post(app, "0671112202").status_code == 202
    response = post(app, "0671112203")
    assert assert_problem(response, 429)["code"] == "too_many_numbers"
    assert response.headers["Retry-After"] == "3600"
    assert post(app, "0671112201").status_code == 202  # one of its own numbers again
    assert post(app, "0671112203", ip="198.51.100.9").status_code == 202  # another address


def test_no_cap_on_numbers_per_address_when_zero(make_app: Callable[..., Flask]) -> None:
    app = make_app(max_numbers_per_ip=0, dedupe_window=0, limit_per_ip="100/minute")
    assert {post(app, f"067111220{n}").status_code for n in range(5)} == {202}


def test_blocklist_by_cli_is_hashed_and_expires(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    assert "blocked +38067*****33 until" in cli(
        app, "block", "add", "067 111 22 33", "--ttl", "30d", "--reason", "harassment"
    )
    assert_problem(post(app, "+380671112233"), 422, "phone", "phone_blocked")
    listing = cli(app, "block", "list")
    assert "+38067*****33" in listing and "harassment" in listing
    assert re.search(r"until \d{4}-\d\d-\d\d \d\d:\d\d UTC", listing)  # as `block add` says
    with services(app).store.engine.connect() as conn:
        stored = conn.execute(text("SELECT digest, masked FROM blocked_numbers")).all()
    assert stored == [(digest("+380671112233", services(app).settings.secret_key), "+38067*****33")]
    cli(app, "block", "remove", "+380671112233")
    assert post(app, "+380671112233").status_code == 202
    services(app).store.blocklist.add(
        digest("+380671112299", services(app).settings.secret_key),
        "x",
        utcnow() - timedelta(seconds=1),
        None,
    )
    assert post(app, "+380671112299", ip="198.51.100.7").status_code == 202  # expired


def test_form_token_required(make_app: Callable[..., Flask]) -> None:
    app = make_app(form_token_required=True, dedupe_window=0, limit_per_ip="100/minute")
    key = services(app).settings.secret_key
    assert_problem(post(app), 422, "form_token", "form_token_missing")
    assert_problem(post(app, form_token="123.forged"), 422, "form_token", "form_token_invalid")
    assert_problem(post(app, form_token=issue(key)), 422, "form_token", "form_token_too_fast")
    old = issue(key, now=time.time() - 5 * 3600)
    assert_problem(post(app, form_token=old), 422, "form_token", "form_token_expired")
    other = issue("another-key", now=time.time() - 10)
    assert_problem(post(app, form_token=other), 422, "form_token", "form_token_invalid")
    assert post(app, form_token=issue(key, now=time.time() - 10)).status_code == 202


def test_captcha_verified_server_side(
    make_app: Callable[..., Flask], requests_mock: requests_mock.Mocker
) -> None:
    app = make_app(
        captcha="turnstile",
        captcha_secret="turnstile-secret",
        captcha_site_key="0x4AAAAAAAsite",
        captcha_verify_url=TURNSTILE,
        dedupe_window=0,
    )
    requests_mock.post(TURNSTILE, json={"success": True})
    assert post(app, captcha_token="ok-token").status_code == 202
    sent = requests_mock.last_request.text
    assert "secret=turnstile-secret" in sent and "response=ok-token" in sent
    assert "remoteip=198.51.100.1" in sent
    requests_mock.post(TURNSTILE, json={"success": False, "error-codes": ["invalid"]})
    response = post(app, captcha_token="bad")
    assert_problem(response, 422, "captcha_token", "captcha_failed")
    assert "turnstile-secret" not in response.get_data(as_text=True)
    assert_problem(post(app), 422, "captcha_token", "captcha_missing")
    requests_mock.post(TURNSTILE, status_code=500)
    assert assert_problem(post(app, captcha_token="x"), 503)["code"] == "captcha_unavailable"


def test_captcha_field_names_of_a_plain_form(
    make_app: Callable[..., Flask], requests_mock: requests_mock.Mocker
) -> None:
    app = make_app(
        captcha="hcaptcha",
        captcha_secret="h-secret",
        captcha_site_key="10000000-ffff-ffff-ffff-000000000001",
        captcha_verify_url="https://api.hcaptcha.com/siteverify",
    )
    requests_mock.post("https://api.hcaptcha.com/siteverify", json={"success": True})
    response = app.test_client().post(
        URL, data={"phone": "0671112233", "h-captcha-response": "tok"}
    )
    assert response.status_code == 202
    assert "response=tok" in requests_mock.last_request.text


def test_consent_required_and_stored(make_app: Callable[..., Flask]) -> None:
    app = make_app(require_consent=True, consent_version="2026-11")
    assert_problem(post(app), 422, "consent", "consent_required")
    assert_problem(post(app, consent=False), 422, "consent", "consent_required")
    lead_id = post(app, consent=True).get_json()["id"]
    lead = services(app).store.get(lead_id)
    assert lead is not None and lead.consent_version == "2026-11"
    assert lead.consent_at is not None


def test_purge_anonymises_old_leads(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    app.test_client().post(
        URL,
        json={"phone": "0671112233", "name": "Ann", "comment": "after 6"},
        headers={"User-Agent": "UA/1"},
    )
    assert services(app).dispatcher.run_once()  # placed: it will not be called again
    assert "0 lead(s) anonymised" in cli(app, "leads", "purge", "--older-than", "90d")
    assert "1 lead(s) anonymised" in cli(app, "leads", "purge", "--older-than", "0s")
    [lead] = services(app).store.search()
    assert lead.status == "placed"
    assert (lead.phone, lead.name, lead.comment, lead.client_ip, lead.user_agent) == (
        "+38067*****33",
        None,
        None,
        None,
        None,
    )
    assert lead.anonymised_at is not None


def test_purge_keeps_the_number_of_a_lead_still_to_be_called(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app()
    store = services(app).store
    waiting = app.test_client().post(URL, json={"phone": "0671112233"}).get_json()["id"]
    failed = app.test_client().post(URL, json={"phone": "0671112244"}).get_json()["id"]
    assert store.transition(failed, LeadStatus.FAILED, expect_from=(LeadStatus.QUEUED,))
    # The queued lead (booked days ahead, held or waiting would be the same) is not purged:
    # masked, it would be dialled with the mask.
    output = cli(app, "leads", "purge", "--older-than", "0s")
    assert "1 lead(s) anonymised" in output
    assert "1 as old still to be called (booked, held or waiting) keep their numbers" in output
    kept = store.get(waiting)
    assert kept is not None and (kept.phone, kept.anonymised_at) == ("+380671112233", None)
    # An anonymised lead cannot be queued again either.
    env = {"CALLGATE_DATABASE_URL": services(app).settings.database_url}
    result = CliRunner().invoke(main, ["leads", "retry", failed], env=env)
    assert result.exit_code == 1 and "was anonymised" in result.output
    assert store.get(failed).status == "failed"  # type: ignore[union-attr]
    assert services(app).dispatcher.run_once()  # the queued lead is called, with its number
    assert store.get(waiting).status == "placed"  # type: ignore[union-attr]


def test_security_headers_on_every_response(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    for response in (client.get("/healthz"), client.get("/nope"), client.post(URL, json={})):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"


def test_json_needs_a_json_content_type(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    response = client.post(URL, data='{"phone": "0671112233"}', content_type="text/plain")
    assert assert_problem(response, 415)["code"] == "unsupported_media_type"


def test_demo_page_works_without_javascript_under_a_strict_csp(
    make_app: Callable[..., Flask],
) -> None:
    import re

    app = make_app(form_token_required=True, form_token_min_age=0.0)
    client = app.test_client()
    page = client.get("/")
    csp = page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "script-src 'self'" in csp
    html = page.get_data(as_text=True)
    nonce = re.search(r"<style nonce=\"([^\"]+)\">", html)
    assert nonce and f"'nonce-{nonce.group(1)}'" in csp
    token = re.search(r'name="form_token" value="([^"]+)"', html)
    assert token is not None
    response = client.post(
        URL,
        data={"phone": "0671112233", "form_token": token.group(1)},
        headers={"Accept": "text/html"},
    )
    assert response.status_code == 303
    assert "/thanks?callgate=" in response.headers["Location"]


def test_a_block_from_another_process_applies_within_the_refresh(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(blocklist_refresh=3.0, limit_per_ip="100/minute", dedupe_window=0)
    assert post(app, "+380671112233").status_code == 202  # the list is now copied, empty
    # `callgate block add` runs as a process of its own, with a store of its own.
    cli(app, "block", "add", "+380671112233")
    assert post(app, "+380671112233").status_code == 202  # this process's copy is still fresh
    time.sleep(3.1)
    assert_problem(post(app, "+380671112233"), 422, "phone", "phone_blocked")
    # A block written through this process's own store applies at once.
    services(app).store.blocklist.add(
        digest("+380671112244", services(app).settings.secret_key), "x", None, None
    )
    assert_problem(post(app, "+380671112244"), 422, "phone", "phone_blocked")
