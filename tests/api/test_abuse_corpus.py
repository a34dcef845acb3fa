"""The abuse corpus: numbers nobody should be able to make us dial, posted through the API.

Premium-rate, shared-cost, UAN, voicemail and pager numbers come from libphonenumber's example
numbers for every region that has them; foreign numbers are each region's example mobile number;
the hand-written cases (malformed input, look-alike Unicode digits, control characters,
whitespace tricks, overlong input) are in ``tests/data/abuse_phones.json``. Every one must be
refused with a 4xx problem that names ``phone``, and the provider must receive nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import phonenumbers
from flask import Flask

from service.config import DEFAULT_BLOCKED_TYPES, NUMBER_TYPES
from tests.conftest import services
from tests.fakes.provider import FakeProvider

URL = "/api/v1/callbacks"
DATA = Path(__file__).resolve().parent.parent / "data" / "abuse_phones.json"
# Several countries, so blocked number types are refused for their type, not only their country.
ALLOWED = ("UA", "PL", "GB", "DE", "FR", "IT", "ES", "CH", "AT", "CZ", "SE", "NO", "IE", "PT")
ALLOWED_SET = frozenset(ALLOWED)
TYPES = ("premium-rate", "shared-cost", "uan", "voicemail", "pager")


@dataclass(frozen=True)
class Case:
    kind: str
    phone: str
    code: str | None = None  # the exact refusal code when it is known in advance


# Valid, callable-looking numbers in ranges the operator blocked (CALLGATE_BLOCKED_PREFIXES).
BLOCKED_PREFIXES = ("+38089", "+38094")
BLOCKED_PREFIX_CASES: list[Case] = [
    Case("blocked prefix", number, "phone_prefix_blocked")
    for number in (
        "+380891234567",
        "+380 89 765 43 21",
        "089 111 22 33",
        "+380941234567",
        "094 765 43 21",
        "(094) 111-22-33",
    )
]


def _example_cases() -> Iterator[Case]:
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for name in TYPES:
            example = phonenumbers.example_number_for_type(region, NUMBER_TYPES[name])
            if example is None:
                continue
            home = phonenumbers.region_code_for_number(example)
            code = f"phone_type_{name.replace('-', '_')}"
            yield Case(
                f"{name} ({region})",
                phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
                code if home in ALLOWED_SET else None,
            )
        mobile = phonenumbers.example_number_for_type(region, NUMBER_TYPES["mobile"])
        # Some regions' examples are, to libphonenumber, numbers of an allowed country (the
        # Isle of Man's example mobile is a GB number): those are not foreign.
        if mobile is not None and phonenumbers.region_code_for_number(mobile) not in ALLOWED_SET:
            yield Case(
                f"foreign ({region})",
                phonenumbers.format_number(mobile, phonenumbers.PhoneNumberFormat.E164),
                "phone_country_not_allowed",
            )


def _hand_written() -> list[Case]:
    return [Case(kind, phone) for kind, phone in json.loads(DATA.read_text(encoding="utf-8"))]


def corpus() -> list[Case]:
    return [*_example_cases(), *_hand_written(), *BLOCKED_PREFIX_CASES]


def test_the_corpus_is_big_and_covers_every_kind() -> None:
    cases = corpus()
    assert len(cases) >= 200
    kinds = {case.kind.split(" (")[0] for case in cases}
    assert set(TYPES) | {"foreign"} <= kinds
    assert {
        "malformed",
        "look-alike digits",
        "control characters",
        "whitespace tricks",
        "overlong",
    } <= kinds
    assert set(TYPES) <= set(DEFAULT_BLOCKED_TYPES)


def test_no_corpus_number_reaches_the_provider(
    make_app: Callable[..., Flask], fake_provider: FakeProvider
) -> None:
    app = make_app(
        provider="ringostat",
        ringostat={"api_url": fake_provider.url},
        default_region="UA",
        allowed_countries=ALLOWED,
        limit_per_ip="100000/minute",
        limit_per_phone="100000/minute",
        limit_global="100000/minute",
        log_level="WARNING",
        blocked_prefixes=BLOCKED_PREFIXES,
    )
    client = app.test_client()
    wrong: list[str] = []
    cases = corpus()
    hand_written = set(_hand_written())
    for case in cases:
        answers = [client.post(URL, json={"phone": case.phone})]
        if case in hand_written:  # the same through a plain HTML form post
            answers.append(client.post(URL, data={"phone": case.phone}))
        for response in answers:
            body = response.get_json(force=True, silent=True) or {}
            codes = body.get("error_codes") or {}
            refused = (
                400 <= response.status_code < 500
                and response.mimetype == "application/problem+json"
                and "phone" in (body.get("errors") or {})
            )
            if not refused or (case.code is not None and codes.get("phone") != case.code):
                wrong.append(f"{case.kind} {case.phone!r}: {response.status_code} {codes}")

    dispatcher = services(app).dispatcher
    while dispatcher.run_once():
        pass
    assert wrong == []
    assert fake_provider.received == []
    assert services(app).store.count_by_status() == {}

    # The same wiring does call for a good number: the silence above is not a broken fake.
    assert client.post(URL, json={"phone": "+380 67 111 22 33"}).status_code == 202
    while dispatcher.run_once():
        pass
    assert [r.json()["params"]["caller"] for r in fake_provider.received] == ["380671112233"]
