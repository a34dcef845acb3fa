"""Hypothesis against the body parsers: deep, malformed and mislabelled bodies never get a 5xx.

What schemathesis derives from the document stays within JSON a client would send; this adds
what an attacker sends instead: nesting thousands deep, invalid UTF-8, numbers past any limit,
duplicate keys, bodies cut short, and content types that lie. ``FUZZ_BODY_EXAMPLES`` (else
``FUZZ_EXAMPLES``) is the number of cases in all, shared by the three runs below; ``make test``
runs 300.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.config import RouteSettings

EXAMPLES = int(os.environ.get("FUZZ_BODY_EXAMPLES", os.environ.get("FUZZ_EXAMPLES", "300")))
PER_RUN = max(1, EXAMPLES // 3)
TOKEN = "fuzz-route-token-0123456789abcdef"
CALLBACKS = "/api/v1/callbacks"
ROUTE = "/api/v1/ringostat/route"
FIELDS = ["phone", "name", "comment", "page_url", "return_to", "idempotency_key", "website",
          "form_token", "captcha_token", "consent", "rngst2", "ga", "token", "caller", "jsonrpc",
          "params", "id", "method"]  # fmt: skip

CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=utf-16",
        "application/merge-patch+json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=xyz",
        "text/plain",
        "application/xml",
        "application/octet-stream",
        "",
        'application/json; x="\\""',
    ]
)

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=60),
    st.sampled_from(["0671112233", "+380671112233", "1795857864.é", "null", "", "\x00", "\r\n"]),
    st.text(st.characters(categories=["Cs", "Co", "Cc"]), max_size=4),  # lone surrogates too
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _json(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


@st.composite
def deep(draw: st.DrawFn) -> bytes:
    """Nesting far past the parser's recursion limit, bare or inside a field."""
    depth = draw(st.integers(200, 5000))
    opener, closer = draw(
        st.sampled_from([(b"[", b"]"), (b'{"a":', b"}"), (b'{"":', b"}"), (b'{"phone":[', b"]}")])
    )
    core = (
        opener * depth
        + draw(st.sampled_from([b"1", b"[]", b"{}", b'"x"', b""]))
        + closer * (depth if draw(st.booleans()) else draw(st.integers(0, depth)))
    )
    field = draw(st.sampled_from(FIELDS))
    return draw(st.sampled_from([core, b'{"%s": %s}' % (field.encode(), core)]))


@st.composite
def invalid_utf8(draw: st.DrawFn) -> bytes:
    body = bytearray(_json(draw(st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES))))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(body)))
        body[at:at] = draw(
            st.sampled_from([b"\xff", b"\xfe\xff", b"\xc3", b"\xed\xa0\x80", b"\x80"])
        )
    return bytes(body)


@st.composite
def huge_numbers(draw: st.DrawFn) -> bytes:
    digits = draw(st.integers(300, 12_000))
    number = draw(
        st.sampled_from(
            [b"9" * digits, b"-" + b"9" * digits, b"1e" + b"9" * 8, b"0." + b"1" * digits,
             b"1" * digits + b"e-999", b"NaN", b"Infinity", b"-Infinity"]
        )
    )  # fmt: skip
    field = draw(st.sampled_from(FIELDS)).encode()
    return b'{"phone": "0671112233", "%s": %s}' % (field, number)


@st.composite
def duplicate_keys(draw: st.DrawFn) -> bytes:
    field = draw(st.sampled_from(FIELDS))
    first, second = draw(JSON_VALUES), draw(JSON_VALUES)
    return b"{%s: %s, %s: %s}" % (_json(field), _json(first), _json(field), _json(second))


@st.composite
def cut_or_spliced(draw: st.DrawFn) -> bytes:
    body = _json(draw(st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, min_size=1)))
    cut = draw(st.integers(0, len(body)))
    return body[:cut] + draw(st.binary(max_size=20))


BODIES = st.one_of(
    deep(),
    invalid_utf8(),
    huge_numbers(),
    duplicate_keys(),
    cut_or_spliced(),
    st.builds(_json, JSON_VALUES),
    st.binary(max_size=200),
    st.builds(lambda n: b"{" + b" " * n + b"}", st.integers(16_000, 20_000)),  # past 16 KB
)


def _check(response: Any, method: str = "POST") -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code >= 400 and response.mimetype != "text/html" and method != "HEAD":
        assert response.mimetype == "application/problem+json", response.mimetype
        body = response.get_json(force=True)
        assert body["status"] == response.status_code


@pytest.mark.parametrize("form_token_required", [False, True])
def test_hostile_bodies_on_callbacks_never_5xx(
    make_app: Callable[..., Flask], form_token_required: bool
) -> None:
    app = make_app(
        form_token_required=form_token_required,
        limit_per_ip="1000000/minute",
        limit_per_phone="1000000/minute",
        limit_global="1000000/minute",
        limit_per_country="1000000/minute",
        log_level="WARNING",
    )
    client = app.test_client()

    @given(
        body=BODIES,
        content_type=CONTENT_TYPES,
        accept=st.sampled_from(["application/json", "text/html", "*/*", ""]),
        key=st.none() | st.sampled_from(["", "null", "k" * 8, "é" * 8, "x" * 200]),
    )
    @settings(
        max_examples=PER_RUN,
        deadline=None,
        database=None,
        derandomize=not os.environ.get("FUZZ_RANDOM"),
        suppress_health_check=list(HealthCheck),
    )
    def run(body: bytes, content_type: str, accept: str, key: str | None) -> None:
        headers = {"Accept": accept, "Content-Type": content_type}
        if key is not None:
            headers["Idempotency-Key"] = key
        _check(client.post(CALLBACKS, data=body, headers=headers))

    run()


def test_hostile_bodies_on_the_routing_webhook_never_5xx(make_app: Callable[..., Flask]) -> None:
    app = make_app(
        ringostat={"auth_key": ""},
        route=RouteSettings(token=TOKEN, fallback="380441234567"),
        log_level="WARNING",
    )
    client = app.test_client()

    @given(
        body=BODIES,
        content_type=CONTENT_TYPES,
        method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
        path=st.sampled_from([ROUTE, f"{ROUTE}/{TOKEN}", f"{ROUTE}/wrong", f"{ROUTE}/"]),
    )
    @settings(
        max_examples=PER_RUN,
        deadline=None,
        database=None,
        derandomize=not os.environ.get("FUZZ_RANDOM"),
        suppress_health_check=list(HealthCheck),
    )
    def run(body: bytes, content_type: str, method: str, path: str) -> None:
        response = client.open(path, method=method, data=body, content_type=content_type)
        _check(response, method)
        if not path.endswith(TOKEN):
            assert response.status_code == 404  # without the token: a path that is not there

    run()
