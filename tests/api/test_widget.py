"""``/widget.js``, ``/widget-captcha.js`` and ``/api/v1/widget-config``: headers, caching, size
budget, dictionaries."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.api.widget import LANGUAGES, SIZE_BUDGET, dictionaries
from service.config import EventSettings, Settings
from service.tokens import verify
from tests.servers import ROOT

PHONE_CODES = (
    "phone_missing",
    "phone_too_long",
    "phone_invalid_characters",
    "phone_invalid",
    "phone_country_not_allowed",
    "phone_type_premium_rate",
    "phone_type_shared_cost",
    "phone_type_uan",
    "phone_type_voicemail",
    "phone_type_pager",
    "phone_type_unknown",
)
OTHER_CODES = (
    "rate_limited",
    "origin_not_allowed",
    "validation_error",
    "honeypot",
    "key_reused",
    "phone_blocked",
    "too_many_numbers",
    "consent_required",
    "form_token_missing",
    "form_token_invalid",
    "form_token_expired",
    "form_token_too_fast",
    "captcha_missing",
    "captcha_failed",
    "captcha_unavailable",
    "captcha_load_failed",
)
STATUSES = (
    "queued",
    "dispatching",
    "placed",
    "connected",
    "failed",
    "scheduled",
    "held",
    "waiting_for_agent",
)
ORIGIN = "https://www.example.com"
# The widget and the CAPTCHA module it imports are served alike.
SCRIPTS = pytest.mark.parametrize(
    "path", ["/widget.js", "/widget-dialog.js", "/widget-captcha.js", "/widget-picker.js"]
)


@SCRIPTS
def test_scripts_are_javascript_with_validators_and_cache_headers(
    client: FlaskClient, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert response.headers["ETag"].startswith('W/"')
    assert response.headers["Cache-Control"] == (
        "public, max-age=600, stale-while-revalidate=86400"
    )
    assert "Accept-Encoding" in response.headers["Vary"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Encoding" not in response.headers
    assert b"callgate" in response.data


@SCRIPTS
def test_scripts_are_gzipped_when_accepted(client: FlaskClient, path: str) -> None:
    plain = client.get(path).data
    zipped = client.get(path, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert gzip.decompress(zipped.data) == plain


def test_widget_js_fits_the_budget(client: FlaskClient) -> None:
    zipped = client.get("/widget.js", headers={"Accept-Encoding": "gzip"})
    assert len(zipped.data) <= SIZE_BUDGET == 5 * 1024, f"{len(zipped.data)} bytes gzipped"


@SCRIPTS
def test_scripts_revalidate_with_their_etag(client: FlaskClient, path: str) -> None:
    etag = client.get(path).headers["ETag"]
    for sent in (etag, etag.removeprefix("W/")):
        again = client.get(path, headers={"If-None-Match": sent})
        assert again.status_code == 304 and again.data == b""
        assert again.headers["ETag"] == etag
    assert client.get(path, headers={"If-None-Match": 'W/"other"'}).status_code == 200


def test_the_two_scripts_have_their_own_etags(client: FlaskClient) -> None:
    widget, captcha = (client.get(p).headers["ETag"] for p in ("/widget.js", "/widget-captcha.js"))
    assert widget != captcha
    assert client.get("/widget-captcha.js", headers={"If-None-Match": widget}).status_code == 200


@SCRIPTS
def test_scripts_cors_only_for_allowed_origins(make_app: Callable[..., Flask], path: str) -> None:
    client = make_app(allowed_origins=(ORIGIN,)).test_client()
    allowed = client.get(path, headers={"Origin": ORIGIN})
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    foreign = client.get(path, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in foreign.headers
    # A <script> tag needs no CORS; reading it, or import() of a module, does.
    assert foreign.status_code == 200


@SCRIPTS
def test_served_scripts_are_the_built_files(client: FlaskClient, path: str) -> None:
    built = ROOT / "service" / "static" / path.lstrip("/")
    assert client.get(path).data == built.read_bytes()


def test_widget_config_is_public_and_in_the_chosen_language(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(
        allowed_countries=("UA", "PL"), allowed_origins=(ORIGIN,), form_token_min_age=2.0
    )
    response = app.test_client().get("/api/v1/widget-config?lang=uk", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    # The same for every visitor: compressed where accepted, cacheable, revalidated by ETag.
    assert response.headers["Cache-Control"] == "public, max-age=60, stale-while-revalidate=600"
    body = response.get_json()
    modules = body.pop("modules")
    assert set(modules) == {"dialog", "picker"}
    assert modules["dialog"].startswith("/widget-dialog.js?v=")
    assert modules["picker"].startswith("/widget-picker.js?v=")
    assert body == {
        "lang": "uk",
        "languages": ["en", "uk", "ru", "pl"],
        "texts": dictionaries()["uk"],
        "default_region": "UA",
        "countries": ["UA", "PL"],
        "require_consent": False,
        "form_token_min_age": 2.0,
        "agents_available": False,  # a Ringostat key, but no SIP status read yet
        "captcha": "none",
        "captcha_site_key": "",
        "captcha_script_url": "",
        "captcha_module": "",
        "ga4_cookie": "",  # no GA4 measurement id
        # Office hours by default: always open, so never a next opening.
        "open_now": True,
        "next_open": None,
        "timezone": "Europe/Kyiv",
    }
    etag = response.headers["ETag"]
    again = app.test_client().get(
        "/api/v1/widget-config?lang=uk", headers={"If-None-Match": etag, "Origin": ORIGIN}
    )
    assert again.status_code == 304
    zipped = app.test_client().get(
        "/api/v1/widget-config?lang=uk", headers={"Accept-Encoding": "gzip", "Origin": ORIGIN}
    )
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert {"Accept-Encoding", "Origin"} <= {v.strip() for v in zipped.headers["Vary"].split(",")}
    assert json.loads(gzip.decompress(zipped.data)) == {**body, "modules": modules}
    token = app.test_client().get("/api/v1/form-token", headers={"Origin": ORIGIN})
    assert token.headers["Cache-Control"] == "no-store"
    verify(token.get_json()["form_token"], app.extensions["callgate"].settings.secret_key, 0, 60)
    text = response.get_data(as_text=True)
    settings = app.extensions["callgate"].settings
    for secret in settings.secret_values():
        assert secret not in text


def test_widget_config_picks_the_first_supported_language_else_english(
    client: FlaskClient,
) -> None:
    for wanted, lang in (
        ("pl", "pl"),
        ("de,ru,en", "ru"),
        ("EN-gb", "en"),
        ("de,fr", "en"),
        ("", "en"),
        ("uk-UA,uk", "uk"),
        ("ua", "uk"),
    ):
        body = client.get("/api/v1/widget-config", query_string={"lang": wanted}).get_json()
        assert body["lang"] == lang, wanted
        assert body["texts"]["launcher"] == dictionaries()[lang]["launcher"]


def test_widget_config_tokens_are_accepted_by_the_callbacks_api(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app(form_token_required=True, form_token_min_age=0.0).test_client()
    token = client.get("/api/v1/form-token").get_json()["form_token"]
    accepted = client.post("/api/v1/callbacks", json={"phone": "0671112233", "form_token": token})
    assert accepted.status_code == 202
    refused = client.post("/api/v1/callbacks", json={"phone": "0671112234"})
    assert refused.get_json()["error_codes"] == {"form_token": "form_token_missing"}


def test_every_dictionary_has_every_text_and_code() -> None:
    english = dictionaries()["en"]
    for code in (*PHONE_CODES, *OTHER_CODES, *STATUSES, "error", "sending"):
        assert english.get(code), code
    for lang in LANGUAGES:
        words = json.loads((ROOT / "widget" / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
        assert set(words) == set(english), lang
        assert all(isinstance(v, str) and v.strip() for v in words.values()), lang
        assert "{time}" in words["scheduled"] and "{wait}" in words["rate_limited"], lang
        assert "{wait}" in words["too_many_numbers"], lang
        assert "{countries}" in words["phone_country_not_allowed"], lang
        assert "{time}" in words["countdown"], lang
        if lang != "en":
            same = {k for k in words if words[k] == english[k]}
            assert not same, f"{lang} still has English texts: {same}"


def test_demo_page_uses_the_widget_on_its_plain_form(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert 'id="callback-form"' in page and 'action="/api/v1/callbacks"' in page
    assert '<script src="/widget.js" async data-form="#callback-form"' in page


def test_widget_config_names_the_captcha_and_its_script(make_app: Callable[..., Flask]) -> None:
    # The CAPTCHA settings as start-up reads them, defaults included.
    read = Settings.from_env(
        {
            "CALLGATE_CAPTCHA": "turnstile",
            "CALLGATE_CAPTCHA_SECRET": "turnstile-secret",
            "CALLGATE_CAPTCHA_SITE_KEY": "0x4AAAAAAAsite",
        }
    )
    captcha = {
        name: getattr(read, name)
        for name in (
            "captcha",
            "captcha_secret",
            "captcha_site_key",
            "captcha_verify_url",
            "captcha_script_url",
        )
    }
    response = make_app(**captcha).test_client().get("/api/v1/widget-config")
    body = response.get_json()
    assert {k: v for k, v in body.items() if k.startswith("captcha")} == {
        "captcha": "turnstile",
        "captcha_site_key": "0x4AAAAAAAsite",
        "captcha_script_url": (
            "https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit"
        ),
        "captcha_module": body["captcha_module"],
    }
    assert "turnstile-secret" not in response.get_data(as_text=True)


def test_widget_config_names_no_captcha_module_without_a_captcha(client: FlaskClient) -> None:
    body = client.get("/api/v1/widget-config").get_json()
    assert body["captcha"] == "none" and body["captcha_module"] == ""


def captcha_client(make_app: Callable[..., Flask]) -> FlaskClient:
    return make_app(
        captcha="hcaptcha",
        captcha_secret="h-secret",
        captcha_site_key="10000000-ffff-ffff-ffff-000000000001",
        captcha_verify_url="https://api.hcaptcha.com/siteverify",
        captcha_script_url="https://js.hcaptcha.com/1/api.js?render=explicit",
        allowed_origins=(ORIGIN,),
    ).test_client()


def test_widget_config_names_the_module_by_its_version(make_app: Callable[..., Flask]) -> None:
    client = captcha_client(make_app)
    module = client.get("/api/v1/widget-config").get_json()["captcha_module"]
    # A path on the service (the widget prefixes its data-api), versioned by the module's ETag:
    # a deploy that changes the module changes the URL, so no cache can pair old with new.
    etag = client.get("/widget-captcha.js").headers["ETag"]
    assert module == f"/widget-captcha.js?v={etag.removeprefix('W/').strip(chr(34))}"


def test_the_versioned_module_is_served_like_the_plain_one(make_app: Callable[..., Flask]) -> None:
    client = captcha_client(make_app)
    module = client.get("/api/v1/widget-config").get_json()["captcha_module"]
    for encoding in ("identity", "gzip"):
        headers = {"Origin": ORIGIN, "Accept-Encoding": encoding}
        plain, versioned = (
            client.get("/widget-captcha.js", headers=headers),
            client.get(module, headers=headers),
        )
        assert versioned.status_code == plain.status_code == 200
        assert versioned.data == plain.data
        # Every header alike but the request's own id.
        same = {k: v for k, v in plain.headers.items() if k != "X-Request-Id"}
        assert {k: v for k, v in versioned.headers.items() if k != "X-Request-Id"} == same
        assert versioned.headers["Access-Control-Allow-Origin"] == ORIGIN
    # Any version answers with the current module: a page that asks for an old one still works.
    assert client.get("/widget-captcha.js?v=0ld").data == client.get("/widget-captcha.js").data
    etag = client.get(module).headers["ETag"]
    assert client.get(module, headers={"If-None-Match": etag}).status_code == 304


def test_openapi_documents_every_widget_config_field(client: FlaskClient) -> None:
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    documented = schemas["WidgetConfig"]
    body = client.get("/api/v1/widget-config").get_json()
    assert set(body) == set(documented["properties"]) == set(documented["required"])
    script = documented["properties"]["captcha_script_url"]
    assert "CALLGATE_CAPTCHA_SCRIPT_URL" in script["description"]


def test_widget_config_names_the_ga4_session_cookie_the_widget_copies(
    make_app: Callable[..., Flask],
) -> None:
    events = EventSettings(ga4_measurement_id="G-ABC123", ga4_api_secret="ga4-secret-0123")
    body = make_app(events=events).test_client().get("/api/v1/widget-config").get_json()
    assert body["ga4_cookie"] == "_ga_ABC123"
    assert "ga4-secret-0123" not in json.dumps(body)
