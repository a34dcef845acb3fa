"""Hypothesis properties of the input parsers: cookies and phone numbers, whatever comes in."""

from __future__ import annotations

import json
import os
from urllib.parse import quote, unquote

import phonenumbers
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from service.attribution import MAX_UTM_VALUE, UTM_KEYS, parse_ga, parse_rngst2
from service.config import DEFAULT_BLOCKED_TYPES
from service.phone import PhonePolicy, PhoneRejected

EXAMPLES = int(os.environ.get("FUZZ_PROPERTY_EXAMPLES", "300"))
SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

POLICY = PhonePolicy("UA", ["UA", "PL", "GB", "US"], DEFAULT_BLOCKED_TYPES)

# Text that looks like what arrives: JSON-ish, percent-encoded, digits of every script.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=10,
)
UTMZ = st.dictionaries(
    st.sampled_from([*UTM_KEYS, "sl", "utm_source "]), JSON_VALUES | st.text(), max_size=7
)
RNGST2 = st.one_of(
    st.text(),
    st.builds(lambda v: json.dumps({"utmz": v}), UTMZ),
    st.builds(lambda v: quote(json.dumps({"utmz": v}), safe=""), UTMZ),
    st.builds(lambda v: quote(quote(json.dumps(v), safe=""), safe=""), JSON_VALUES),
)
PHONE_TEXT = st.one_of(
    st.text(),
    st.text(alphabet="0123456789+()-./ \t"),
    st.text(alphabet=st.characters(categories=["Nd", "Zs", "Cc", "Cf"])),
    st.builds(lambda n: f"+380{n}", st.integers(0, 10**10)),
    st.builds(lambda n: f"0{n}", st.integers(0, 10**10)),
)


@SETTINGS
@given(raw=st.none() | RNGST2)
def test_rngst2_never_raises_and_yields_short_utm_strings(raw: str | None) -> None:
    found = parse_rngst2(raw)
    assert set(found) <= set(UTM_KEYS)
    for value in found.values():
        assert isinstance(value, str) and 0 < len(value) <= MAX_UTM_VALUE
        assert value == value.strip() and "\x00" not in value


@SETTINGS
@given(utmz=st.dictionaries(st.sampled_from(list(UTM_KEYS)), st.text(min_size=1, max_size=50)))
def test_rngst2_reads_back_what_the_tracking_script_wrote(utmz: dict[str, str]) -> None:
    raw = quote(json.dumps({"utmz": utmz}), safe="")
    cleaned = {k: v.replace("\x00", "").strip() for k, v in utmz.items()}
    expected = {k: v for k, v in cleaned.items() if v}
    assert parse_rngst2(raw) == expected


@SETTINGS
@given(raw=st.none() | st.text() | st.from_regex(r"GA\d\.\d\.\d{1,12}\.\d{1,12}", fullmatch=True))
def test_ga_never_raises_and_yields_a_client_id_or_none(raw: str | None) -> None:
    client_id = parse_ga(raw)
    if client_id is not None:
        random_part, timestamp = client_id.split(".")
        assert random_part.isascii() and random_part.isdigit()
        assert timestamp.isascii() and timestamp.isdigit()
        assert client_id in unquote(raw or "")


@SETTINGS
@given(random_part=st.integers(0, 10**10), timestamp=st.integers(0, 10**10))
def test_ga_client_id_is_the_last_two_fields(random_part: int, timestamp: int) -> None:
    assert parse_ga(f"GA1.2.{random_part}.{timestamp}") == f"{random_part}.{timestamp}"


@SETTINGS
@given(text=PHONE_TEXT)
@example(text="+1 201 200 0000")  # another allowed country: found by `make fuzz` at 20,000
def test_phone_vetting_refuses_only_with_phone_rejected(text: str) -> None:
    try:
        number = POLICY.vet(text)
    except PhoneRejected as rejected:
        assert rejected.code.startswith("phone_") and rejected.message
        return
    # Accepted: E.164, a valid number of an allowed country and type, and vetting it again
    # gives the same answer.
    assert number.e164.startswith("+") and number.e164[1:].isdigit()
    assert number.e164.isascii() and len(number.e164) <= 16
    parsed = phonenumbers.parse(number.e164)
    assert phonenumbers.is_valid_number(parsed)
    assert number.region in POLICY.allowed_countries
    assert number.number_type not in POLICY.blocked_types
    assert POLICY.vet(number.e164) == number
    # The digits a provider gets are the number in international form. Without a "+", only
    # the default region's own read back as the same number: a bare "12012000000" is read as
    # a Ukrainian national number (refused), as a visitor's typing would be.
    assert POLICY.vet("+" + number.digits) == number
    if number.region == POLICY.default_region:
        assert POLICY.vet(number.digits) == number
