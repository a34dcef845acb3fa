from __future__ import annotations

import pytest

from service.config import DEFAULT_BLOCKED_TYPES
from service.phone import PhonePolicy, PhoneRejected, mask

UA = PhonePolicy("UA", ["UA"], DEFAULT_BLOCKED_TYPES)
EUROPE = PhonePolicy("UA", ["UA", "PL", "GB", "DE", "FR"], DEFAULT_BLOCKED_TYPES)


@pytest.mark.parametrize(
    "typed",
    [
        "+380671112233",
        "380671112233",
        "067 111 22 33",
        "(067) 111-22-33",
        "+38 (067) 111.22.33",
        "0671112233",
        "  +380 67 111 22 33  ",
        "067/111/22/33",
    ],
)
def test_human_formats_normalise_to_e164(typed: str) -> None:
    number = UA.vet(typed)
    assert number.e164 == "+380671112233"
    assert number.digits == "380671112233"
    assert number.region == "UA"
    assert number.number_type == "mobile"


def test_landline_is_allowed() -> None:
    assert UA.vet("044 111 22 33").number_type == "fixed-line"


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("", "phone_missing"),
        ("   ", "phone_missing"),
        ("1" * 33, "phone_too_long"),
        ("+380 67 111 22 33 ext 5", "phone_invalid_characters"),
        ("+380６７1112233", "phone_invalid_characters"),  # fullwidth look-alike digits
        ("+380٦٧1112233", "phone_invalid_characters"),  # Arabic-Indic digits
        ("call me", "phone_invalid_characters"),
        ("+++", "phone_invalid"),
        ("12", "phone_invalid"),
        ("+380 67 111 22", "phone_invalid"),
        ("+4930123456", "phone_country_not_allowed"),
        ("+12015550123", "phone_country_not_allowed"),
    ],
)
def test_refusals_carry_a_code(typed: str, code: str) -> None:
    with pytest.raises(PhoneRejected) as caught:
        UA.vet(typed)
    assert caught.value.code == code
    assert caught.value.message


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("+380900212345", "phone_type_premium_rate"),
        ("+449012345678", "phone_type_premium_rate"),
        ("+48801234567", "phone_type_shared_cost"),
        ("+445512345678", "phone_type_uan"),
        ("+49177991234567", "phone_type_voicemail"),
        ("+447640123456", "phone_type_pager"),
    ],
)
def test_blocked_number_types(typed: str, code: str) -> None:
    with pytest.raises(PhoneRejected) as caught:
        EUROPE.vet(typed)
    assert caught.value.code == code
    assert "cannot be called" in caught.value.message


def test_blocked_types_are_configurable() -> None:
    strict = PhonePolicy("UA", ["UA"], ["voip", "toll-free"])
    with pytest.raises(PhoneRejected, match="VoIP") as caught:
        strict.vet("+380891234567")
    assert caught.value.code == "phone_type_voip"
    assert strict.vet("+380900212345").number_type == "premium-rate"  # no longer blocked


def test_mask_keeps_enough_to_tell_calls_apart() -> None:
    assert mask("+380671112233") == "+38067*****33"
    assert mask("+4930123") == "********"


@pytest.mark.parametrize(
    "typed",
    ["\x1c0671112233", "0671112233\x1f", "\x850671112233", "\xa0+380671112233", "\u30000671112233"],
)
def test_control_characters_and_unicode_spaces_around_the_number_are_refused(typed: str) -> None:
    # Found by the abuse corpus: str.strip() dropped these, so they were silently accepted.
    with pytest.raises(PhoneRejected) as caught:
        UA.vet(typed)
    assert caught.value.code == "phone_invalid_characters"
