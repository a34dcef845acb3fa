"""Bodies the parser cannot take (depth, encoding, numbers, keys, control characters) are
refused with a 4xx problem, before anything is stored; never a 500."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from tests.api.test_callbacks import assert_problem
from tests.conftest import services

URL = "/api/v1/callbacks"
DEEP = 3000


def _leads(app: Flask) -> int:
    return len(services(app).store.search(limit=100))


@pytest.mark.parametrize(
    "body",
    [
        b"[" * DEEP + b"]" * DEEP,
        b'{"phone": "0671112233", "name": ' + b"[" * DEEP + b"]" * DEEP + b"}",
        b'{"phone": ' + b'{"":' * 2500 + b"1" + b"}" * 2500 + b"}",  # within 16 KB
    ],
    ids=["deep-array", "deep-field", "deep-object"],
)
def test_json_nested_thousands_deep_is_a_400(make_app: Callable[..., Flask], body: bytes) -> None:
    app = make_app()
    response = app.test_client().post(URL, data=body, content_type="application/json")
    assert assert_problem(response, 400)["code"] == "malformed_json"
    assert _leads(app) == 0


@pytest.mark.parametrize(
    "body",
    [
        b'{"phone": "067\xff\xfe1112233"}',  # invalid UTF-8
        b'{"phone": "0671112233", "name": ' + b"9" * 5000 + b"}",  # past int's digit limit
        b'{"phone": "+380671112233", "phone": "+380671112244"}',  # smuggled second value
        b'{"phone": "0671112233"',  # cut short
        b'{"phone": "0671112233", "name": "a\\ud800b"}',  # a lone surrogate: no database takes it
        b'{"phone": "0671112233", "comment": "\\udfff"}',
    ],
    ids=["invalid-utf8", "huge-int", "duplicate-key", "truncated", "surrogate", "low-surrogate"],
)
def test_malformed_json_is_a_400(make_app: Callable[..., Flask], body: bytes) -> None:
    app = make_app()
    response = app.test_client().post(URL, data=body, content_type="application/json")
    assert assert_problem(response, 400)["code"] == "malformed_json"
    assert _leads(app) == 0


@pytest.mark.parametrize("signature", ["é", "\u0663\u0664", "\uff10" * 32, "a" * 31 + "é"])
def test_a_non_ascii_form_token_signature_is_refused_not_a_500(
    make_app: Callable[..., Flask], signature: str
) -> None:
    app = make_app(form_token_required=True)
    response = app.test_client().post(
        URL, json={"phone": "0671112233", "form_token": f"1795857864.{signature}"}
    )
    assert_problem(response, 422, "form_token", "form_token_invalid")


@pytest.mark.parametrize("issued", ["²", "\u0661\u0667\u0669\u0665", "1e9", "-5", " 17"])
def test_a_form_token_time_in_other_digits_is_refused(
    make_app: Callable[..., Flask], issued: str
) -> None:
    app = make_app(form_token_required=True)
    response = app.test_client().post(
        URL, json={"phone": "0671112233", "form_token": f"{issued}.{'0' * 32}"}
    )
    assert_problem(response, 422, "form_token", "form_token_invalid")


@pytest.mark.parametrize(
    "return_to",
    [
        "http://localhost/done\r\nSet-Cookie: session=attacker",
        "http://localhost/done\nLocation: https://evil.example/",
        "http://localhost/done\x00",
        "http://localhost/\x07done",
    ],
)
def test_control_characters_in_return_to_are_refused_before_storing(
    make_app: Callable[..., Flask], return_to: str
) -> None:
    app = make_app()
    response = app.test_client().post(
        URL,
        data={"phone": "0671112233", "return_to": return_to},
        headers={"Accept": "text/html"},
    )
    # A plain form post: the visitor gets the problem as a page, naming the field.
    assert response.status_code == 422
    assert "return_to" in response.get_data(as_text=True)
    assert "Set-Cookie" not in response.headers and "Location" not in response.headers
    assert _leads(app) == 0
    assert services(app).dispatcher is not None


def test_an_escaped_surrogate_pair_is_text_and_accepted(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    body = b'{"phone": "0671112233", "name": "\\ud83d\\ude00 Olena"}'
    response = app.test_client().post(URL, data=body, content_type="application/json")
    assert response.status_code == 202
    lead = services(app).store.get(response.get_json()["id"])
    assert lead is not None and lead.name == "\U0001f600 Olena"


def test_no_answer_says_not_stored(make_app: Callable[..., Flask]) -> None:
    """A 500 can come after the lead was stored: its message must not claim otherwise."""
    app = make_app()

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("after the insert")

    response = app.test_client().get("/boom")
    body = assert_problem(response, 500)
    assert "not stored" not in str(body["detail"])
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize("key", ["null", ""])
def test_a_form_post_with_a_null_or_empty_idempotency_key_is_accepted(
    make_app: Callable[..., Flask], key: str
) -> None:
    app = make_app()
    response = app.test_client().post(URL, data={"phone": "0671112233", "idempotency_key": key})
    assert response.status_code == 202, response.get_json()
    lead = services(app).store.get(response.get_json()["id"])
    assert lead is not None and lead.idempotency_key is None


def test_lang_longer_than_read_is_served_as_the_document_says(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app().test_client()
    lang = "xx," * 100 + "uk"  # 302 characters: the Ukrainian entry is past what is read
    response = client.get("/api/v1/widget-config", query_string={"lang": lang})
    assert response.status_code == 200
    assert response.get_json()["lang"] == "en"
    spec = client.get("/openapi.json").get_json()
    (param,) = spec["paths"]["/api/v1/widget-config"]["get"]["parameters"]
    # The document does not promise a refusal the service does not make.
    assert param["schema"].get("maxLength", len(lang)) >= len(lang)
    assert "200" in param["description"]
