from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import services
from tests.samples import RNGST2

URL = "/api/v1/callbacks"
PROBLEM = "application/problem+json"


def assert_problem(
    response: object, status: int, field: str | None = None, code: str | None = None
) -> dict[str, object]:
    assert response.status_code == status  # type: ignore[attr-defined]
    assert response.mimetype == PROBLEM  # type: ignore[attr-defined]
    body: dict[str, object] = response.get_json(force=True)  # type: ignore[attr-defined]
    assert body["status"] == status and body["title"] and body["type"] and body["detail"]
    if field:
        assert field in body["errors"]  # type: ignore[operator]
    if code:
        assert body["error_codes"][field] == code  # type: ignore[index]
    return body


def test_json_post_is_stored_queued_and_answered_202(app: Flask, client: FlaskClient) -> None:
    response = client.post(
        URL, json={"phone": "067 111 22 33", "name": "Ann", "page_url": "https://shop.example/p/1"}
    )
    assert response.status_code == 202
    body = response.get_json()
    assert set(body) == {"id", "status", "created_at"}
    assert body["status"] == "queued"
    assert len(body["id"]) >= 22
    assert response.headers["Location"] == f"{URL}/{body['id']}"
    lead = services(app).store.get(body["id"])
    assert lead is not None
    assert (lead.phone, lead.name, lead.page_url) == (
        "+380671112233",
        "Ann",
        "https://shop.example/p/1",
    )


def test_form_post_from_a_script_gets_json(client: FlaskClient) -> None:
    response = client.post(URL, data={"phone": "+380671112233", "csrf": "site-own-field"})
    assert response.status_code == 202
    assert response.get_json()["status"] == "queued"


def test_attribution_from_cookies(app: Flask, client: FlaskClient) -> None:
    client.set_cookie("rngst2", RNGST2)
    client.set_cookie("_ga", "GA1.2.1234567890.1700000000")
    body = client.post(
        URL, json={"phone": "0671112233"}, headers={"User-Agent": "Mozilla/5.0 test"}
    ).get_json()
    lead = services(app).store.get(body["id"])
    assert lead is not None
    assert (
        lead.utm_source,
        lead.utm_medium,
        lead.utm_campaign,
        lead.utm_term,
        lead.utm_content,
    ) == ("google", "cpc", "spring", "call me", "ad1")
    assert lead.client_id == "1234567890.1700000000"
    assert lead.user_agent == "Mozilla/5.0 test"
    assert lead.client_ip == "127.0.0.1"


def test_attribution_from_widget_copies_and_cookie_wins(app: Flask, client: FlaskClient) -> None:
    other = quote(json.dumps({"utmz": {"utm_source": "bing"}}), safe="")
    body = client.post(
        URL, json={"phone": "0671112233", "rngst2": RNGST2, "ga": "GA1.2.5.6"}
    ).get_json()
    lead = services(app).store.get(body["id"])
    assert lead is not None and (lead.utm_source, lead.client_id) == ("google", "5.6")
    client.set_cookie("rngst2", other)
    body = client.post(URL, json={"phone": "0671112234", "rngst2": RNGST2}).get_json()
    lead = services(app).store.get(body["id"])
    assert lead is not None and lead.utm_source == "bing"


def test_unparsable_attribution_is_not_an_error(app: Flask, client: FlaskClient) -> None:
    client.set_cookie("rngst2", "%7Bnot-json")
    client.set_cookie("_ga", "garbage")
    response = client.post(URL, json={"phone": "0671112233", "ga": "GA1.x"})
    assert response.status_code == 202
    lead = services(app).store.get(response.get_json()["id"])
    assert lead is not None and lead.utm_source is None and lead.client_id is None


@pytest.mark.parametrize(
    ("phone", "code"),
    [
        ("12", "phone_invalid"),
        ("+4930123456", "phone_country_not_allowed"),
        ("+380900212345", "phone_type_premium_rate"),
        ("067１１１2233", "phone_invalid_characters"),
        ("", "invalid"),
    ],
)
def test_phone_refusals_name_the_field_and_code(client: FlaskClient, phone: str, code: str) -> None:
    assert_problem(client.post(URL, json={"phone": phone}), 422, "phone", code)


def test_missing_phone(client: FlaskClient) -> None:
    body = assert_problem(client.post(URL, json={"name": "Ann"}), 422, "phone")
    assert body["errors"] == {"phone": ["Missing data for required field."]}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"phone": "0671112233", "name": "x" * 101}, "name"),
        ({"phone": "0671112233", "comment": 5}, "comment"),
        ({"phone": 380671112233}, "phone"),
        ({"phone": "0671112233", "idempotency_key": "short"}, "idempotency_key"),
        ({"phone": "0671112233", "surprise": "field"}, "surprise"),
    ],
)
def test_invalid_fields_are_named(
    client: FlaskClient, payload: dict[str, object], field: str
) -> None:
    assert_problem(client.post(URL, json=payload), 422, field)


def test_honeypot(client: FlaskClient) -> None:
    assert_problem(
        client.post(URL, json={"phone": "0671112233", "website": "http://spam"}),
        422,
        "website",
        "honeypot",
    )


def test_malformed_json_is_400(client: FlaskClient) -> None:
    body = assert_problem(client.post(URL, data="{nope", content_type="application/json"), 400)
    assert body["code"] == "malformed_json"
    assert_problem(client.post(URL, data="[1]", content_type="application/json"), 400)


def test_other_content_types_are_415(client: FlaskClient) -> None:
    assert_problem(client.post(URL, data="phone=1", content_type="text/plain"), 415)


def test_body_over_16_kb_is_413(client: FlaskClient) -> None:
    response = client.post(URL, json={"phone": "0671112233", "comment": "x" * 17000})
    assert_problem(response, 413)


def test_unknown_path_and_method_are_problems(client: FlaskClient) -> None:
    assert_problem(client.get("/nowhere"), 404)
    response = client.put(URL, json={})
    assert_problem(response, 405)
    assert "POST" in response.headers["Allow"]


def test_plain_html_form_is_redirected_to_return_to(make_app: Callable[..., Flask]) -> None:
    app = make_app(allowed_origins=("https://shop.example",))
    client = app.test_client()
    response = client.post(
        URL,
        data={"phone": "0671112233", "return_to": "https://shop.example/thanks?x=1"},
        headers={"Accept": "text/html,application/xhtml+xml", "Origin": "https://shop.example"},
    )
    assert response.status_code == 303
    assert response.headers["Location"].startswith("https://shop.example/thanks?x=1&callgate=")


def test_return_to_a_foreign_origin_goes_to_our_thanks_page(client: FlaskClient) -> None:
    response = client.post(
        URL,
        data={"phone": "0671112233", "return_to": "https://evil.example/"},
        headers={"Accept": "text/html"},
    )
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("/thanks?callgate=")
    assert "Thank you" in client.get(location).get_data(as_text=True)


def test_plain_html_form_error_is_a_page(client: FlaskClient) -> None:
    response = client.post(URL, data={"phone": "12"}, headers={"Accept": "text/html"})
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    assert "This phone number is not valid." in response.get_data(as_text=True)


def test_foreign_origin_post_is_403(client: FlaskClient) -> None:
    response = client.post(
        URL, json={"phone": "0671112233"}, headers={"Origin": "https://evil.example"}
    )
    body = assert_problem(response, 403)
    assert body["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in response.headers


def test_same_origin_post_is_allowed(client: FlaskClient) -> None:
    response = client.post(
        URL, json={"phone": "0671112233"}, headers={"Origin": "http://localhost"}
    )
    assert response.status_code == 202


def test_cors_only_for_allowed_origins(make_app: Callable[..., Flask]) -> None:
    client = make_app(allowed_origins=("https://shop.example",)).test_client()
    preflight = client.options(
        URL,
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,idempotency-key",
        },
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "idempotency-key" in preflight.headers["Access-Control-Allow-Headers"].lower()
    response = client.post(
        URL, json={"phone": "0671112233"}, headers={"Origin": "https://shop.example"}
    )
    assert response.status_code == 202
    assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    other = client.options(
        URL, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in other.headers


def test_status_shows_no_personal_data(app: Flask, client: FlaskClient) -> None:
    lead_id = client.post(URL, json={"phone": "0671112233", "name": "Ann"}).get_json()["id"]
    response = client.get(f"{URL}/{lead_id}")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"id", "status", "created_at"}
    assert "380671112233" not in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    assert_problem(client.get(f"{URL}/nonexistent"), 404)


def test_idempotency_key_returns_the_same_lead(app: Flask, client: FlaskClient) -> None:
    first = client.post(
        URL, json={"phone": "0671112233"}, headers={"Idempotency-Key": "key-0001-abcdef"}
    )
    again = client.post(
        URL,
        json={"phone": "0671112233", "idempotency_key": "ignored-by-hdr"},
        headers={"Idempotency-Key": "key-0001-abcdef"},
    )
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.get_json()["id"] == again.get_json()["id"]
    assert len(services(app).store.search()) == 1


def test_idempotency_key_in_the_body(client: FlaskClient) -> None:
    payload = {"phone": "0671112233", "idempotency_key": "body-key-0001"}
    assert (
        client.post(URL, json=payload).get_json()["id"]
        == client.post(URL, json=payload).get_json()["id"]
    )


def test_idempotency_key_reused_for_another_number(make_app: Callable[..., Flask]) -> None:
    client = make_app(dedupe_window=0).test_client()
    client.post(URL, json={"phone": "0671112233", "idempotency_key": "reused-key-1"})
    response = client.post(URL, json={"phone": "0671112234", "idempotency_key": "reused-key-1"})
    assert_problem(response, 422, "idempotency_key", "key_reused")


def test_same_number_within_the_dedupe_window_returns_the_open_lead(
    app: Flask, client: FlaskClient
) -> None:
    first = client.post(URL, json={"phone": "0671112233"})
    second = client.post(URL, json={"phone": "+380 67 111 22 33"})
    assert second.status_code == 200
    assert first.get_json()["id"] == second.get_json()["id"]
    assert client.post(URL, json={"phone": "0671112299"}).status_code == 202


def test_dedupe_window_zero_stores_each_request(make_app: Callable[..., Flask]) -> None:
    client = make_app(dedupe_window=0).test_client()
    ids = {client.post(URL, json={"phone": "0671112233"}).get_json()["id"] for _ in range(2)}
    assert len(ids) == 2


def test_per_ip_limit_counts_every_attempt(make_app: Callable[..., Flask]) -> None:
    client = make_app(limit_per_ip="3/minute").test_client()
    statuses = [client.post(URL, json={"phone": "12"}).status_code for _ in range(3)]
    assert statuses == [422, 422, 422]
    response = client.post(URL, json={"phone": "0671112233"})
    body = assert_problem(response, 429)
    assert body["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_per_phone_limit_counts_across_addresses(make_app: Callable[..., Flask]) -> None:
    client = make_app(limit_per_phone="2/hour", dedupe_window=0).test_client()
    for n in range(2):
        response = client.post(
            URL, json={"phone": "0671112233"}, environ_base={"REMOTE_ADDR": f"198.51.100.{n}"}
        )
        assert response.status_code == 202
    response = client.post(
        URL, json={"phone": "0671112233"}, environ_base={"REMOTE_ADDR": "198.51.100.9"}
    )
    assert_problem(response, 429)
    assert int(response.headers["Retry-After"]) > 60
    assert (
        client.post(
            URL, json={"phone": "0671112234"}, environ_base={"REMOTE_ADDR": "198.51.100.9"}
        ).status_code
        == 202
    )


def test_invalid_requests_do_not_use_up_the_number_limit(make_app: Callable[..., Flask]) -> None:
    client = make_app(limit_per_phone="1/hour", limit_global="1/hour").test_client()
    client.post(URL, json={"phone": "0671112233", "website": "bot"})
    assert client.post(URL, json={"phone": "0671112233"}).status_code == 202


def test_global_cap(make_app: Callable[..., Flask]) -> None:
    client = make_app(limit_global="2/hour").test_client()
    for n in range(2):
        assert (
            client.post(
                URL,
                json={"phone": f"067111223{n}"},
                environ_base={"REMOTE_ADDR": f"198.51.100.{n}"},
            ).status_code
            == 202
        )
    assert_problem(
        client.post(
            URL, json={"phone": "0671112239"}, environ_base={"REMOTE_ADDR": "198.51.100.7"}
        ),
        429,
    )


@pytest.mark.parametrize(("proxies", "expected"), [(0, "127.0.0.1"), (1, "203.0.113.9")])
def test_client_ip_behind_trusted_proxies(
    make_app: Callable[..., Flask], proxies: int, expected: str
) -> None:
    app = make_app(trusted_proxies=proxies)
    response = app.test_client().post(
        URL, json={"phone": "0671112233"}, headers={"X-Forwarded-For": "198.51.100.66, 203.0.113.9"}
    )
    lead = services(app).store.get(response.get_json()["id"])
    assert lead is not None and lead.client_ip == expected


def test_every_response_has_a_request_id(client: FlaskClient) -> None:
    assert len(client.get("/healthz").headers["X-Request-Id"]) == 32
    assert (
        client.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["X-Request-Id"]
        == "abc-123"
    )


def test_one_log_line_per_request_and_no_number_in_clear(
    capsys: pytest.CaptureFixture[str], client: FlaskClient
) -> None:
    client.post(URL, json={"phone": "0671112233"}, headers={"X-Request-Id": "rid-42"})
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if "rid=rid-42" in line)
    assert "POST /api/v1/callbacks 202" in line
    assert "380671112233" not in err


@pytest.mark.parametrize("blank", ["", " ", "\t"])
def test_blank_idempotency_key_header_is_refused(client: FlaskClient, blank: str) -> None:
    # Found by fuzzing: a blank header used to be read as "no key" and the lead accepted.
    response = client.post(URL, json={"phone": "0671112233"}, headers={"Idempotency-Key": blank})
    assert_problem(response, 422, "idempotency_key", "invalid")


@pytest.mark.parametrize("field", ["name", "comment", "page_url", "return_to", "rngst2", "ga"])
def test_nul_in_a_text_field_is_refused(client: FlaskClient, field: str) -> None:
    # Found while fuzzing: PostgreSQL cannot store NUL, so these answered 500 there.
    response = client.post(URL, json={"phone": "0671112233", field: "a\x00b"})
    assert_problem(response, 422, field, "invalid")
