from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from service.attribution import MAX_USER_AGENT, collect, parse_ga, parse_rngst2

RNGST2 = {
    "utmz": {
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "spring",
        "utm_content": "ad1",
        "utm_term": "call me",
    },
    "sl": "abc",
}


def encoded(value: object) -> str:
    return quote(json.dumps(value, separators=(",", ":")), safe="")


def test_rngst2_as_the_tracking_script_writes_it() -> None:
    assert parse_rngst2(encoded(RNGST2)) == RNGST2["utmz"]


def test_rngst2_already_decoded_or_encoded_twice() -> None:
    assert parse_rngst2(json.dumps(RNGST2)) == RNGST2["utmz"]
    assert parse_rngst2(quote(encoded(RNGST2), safe="")) == RNGST2["utmz"]


def test_ga_style_values_pass_as_written() -> None:
    value = {
        "utmz": {"utm_source": "(direct)", "utm_medium": "(none)", "utm_campaign": "(not set)"}
    }
    assert parse_rngst2(encoded(value)) == {
        "utm_source": "(direct)",
        "utm_medium": "(none)",
        "utm_campaign": "(not set)",
    }


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "not json",
        "%7Bbroken",
        encoded([1, 2]),
        encoded({"utmz": "google"}),
        encoded({"other": {}}),
        "%" * 5000,
        encoded({"utmz": {"utm_source": {"x": 1}}}),
    ],
)
def test_unreadable_rngst2_gives_nothing(raw: str | None) -> None:
    assert parse_rngst2(raw) == {}


@pytest.mark.parametrize(
    ("raw", "client_id"),
    [
        ("GA1.2.1234567890.1700000000", "1234567890.1700000000"),
        ("GA1.3.111.222", "111.222"),
        ("GA1.1-2.111.222", "111.222"),
        ("GA1.1.987654321.1712345678", "987654321.1712345678"),  # GA4
        ("GS1.1.1712345678.1.1.1712345678.0.0.0", None),
        ("1234567890.1700000000", None),
        ("GA1.2.abc.def", None),
        ("", None),
        (None, None),
    ],
)
def test_ga_client_id(raw: str | None, client_id: str | None) -> None:
    assert parse_ga(raw) == client_id


def test_cookie_wins_over_the_widget_copy() -> None:
    other = {"utmz": {"utm_source": "facebook"}}
    found = collect(
        cookie_rngst2=encoded(RNGST2),
        cookie_ga="GA1.2.1.2",
        copy_rngst2=encoded(other),
        copy_ga="GA1.2.3.4",
        client_ip="203.0.113.5",
        user_agent="UA",
    )
    assert found.utm_source == "google"
    assert found.client_id == "1.2"


def test_copies_are_used_without_cookies() -> None:
    found = collect(
        cookie_rngst2=None,
        cookie_ga=None,
        copy_rngst2=encoded(RNGST2),
        copy_ga="GA1.2.3.4",
        client_ip=None,
        user_agent=None,
    )
    assert (found.utm_source, found.utm_term, found.client_id) == ("google", "call me", "3.4")


def test_user_agent_is_cut() -> None:
    found = collect(
        cookie_rngst2=None,
        cookie_ga=None,
        copy_rngst2=None,
        copy_ga=None,
        client_ip=None,
        user_agent="x" * 5000,
    )
    assert found.user_agent == "x" * MAX_USER_AGENT


def test_ga_with_look_alike_digits_gives_no_client_id() -> None:
    # Found by the hypothesis properties: \d matched Arabic-Indic digits, and the client ID
    # sent to Ringostat carried them.
    assert parse_ga("GA1.2.١٢٣٤.٥٦٧٨") is None
    assert parse_ga("GA1.2.１２３４.５６７８") is None


def test_rngst2_values_lose_nul_characters() -> None:
    # A JSON "\u0000" decodes to NUL, which PostgreSQL text cannot store (it answered 500).
    raw = quote(json.dumps({"utmz": {"utm_source": "goo\u0000gle", "utm_medium": "\u0000"}}))
    assert parse_rngst2(raw) == {"utm_source": "google"}
