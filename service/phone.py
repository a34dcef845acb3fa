"""Parse, normalise and vet the number a visitor typed, with Google's libphonenumber.

Every refusal carries a machine ``code`` (the widget maps it to local text) and a human message.
The rules run before anything is stored or dialled: they are the first toll-fraud defence.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers

from .config import NUMBER_TYPES

MAX_INPUT_LENGTH = 32

# What people type around digits. Anything else, look-alike Unicode digits included, is refused
# rather than silently normalised: a number we would dial must be the number the visitor saw.
_ALLOWED_CHARACTERS = re.compile(r"^[0-9+()\-.\s/]*$", re.ASCII)

_ASCII_WHITESPACE = " \t\n\r\f\v"

_TYPE_NAMES = {value: name for name, value in NUMBER_TYPES.items()}

_TYPE_MESSAGES = {
    "premium-rate": "Premium-rate numbers cannot be called back.",
    "shared-cost": "Shared-cost numbers cannot be called back.",
    "uan": "Universal access numbers cannot be called back.",
    "voicemail": "Voicemail access numbers cannot be called back.",
    "pager": "Pager numbers cannot be called back.",
    "unknown": "This number's type is unknown, so it cannot be called back.",
    "toll-free": "Toll-free numbers cannot be called back.",
    "voip": "VoIP numbers cannot be called back.",
    "personal-number": "Personal numbers cannot be called back.",
}


@dataclass(frozen=True)
class PhoneNumber:
    """A vetted number: E.164 (``+380671112233``), its region and its type."""

    e164: str
    region: str
    number_type: str

    @property
    def digits(self) -> str:
        """International digits without ``+``, as Ringostat wants them."""
        return self.e164.lstrip("+")


class PhoneRejected(ValueError):
    """The number cannot be called; ``code`` is stable, ``message`` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class PhonePolicy:
    """The configured rules: default region, allowed countries, blocked number types."""

    def __init__(
        self,
        default_region: str,
        allowed_countries: Iterable[str],
        blocked_types: Iterable[str],
        blocked_prefixes: Iterable[str] = (),
    ) -> None:
        self.default_region = default_region
        self.allowed_countries = frozenset(allowed_countries)
        self.blocked_types = frozenset(blocked_types)
        self.blocked_prefixes = tuple(blocked_prefixes)

    def vet(self, text: str) -> PhoneNumber:
        """Return the normalised number or raise :class:`PhoneRejected`."""
        # ASCII whitespace only: str.strip() would also drop control characters (\x1c-\x1f,
        # \x85) and Unicode spaces, silently accepting what the character rule below refuses.
        text = text.strip(_ASCII_WHITESPACE)
        if not text:
            raise PhoneRejected("phone_missing", "Enter a phone number.")
        if len(text) > MAX_INPUT_LENGTH:
            raise PhoneRejected("phone_too_long", "This is too long to be a phone number.")
        if not _ALLOWED_CHARACTERS.match(text):
            raise PhoneRejected(
                "phone_invalid_characters",
                "Use only digits, spaces, brackets, dashes and a leading +.",
            )
        try:
            parsed = phonenumbers.parse(text, self.default_region)
        except phonenumbers.NumberParseException:
            raise PhoneRejected("phone_invalid", "This is not a phone number.") from None
        if not phonenumbers.is_valid_number(parsed):
            raise PhoneRejected("phone_invalid", "This phone number is not valid.")
        region = phonenumbers.region_code_for_number(parsed) or ""
        if region not in self.allowed_countries:
            raise PhoneRejected(
                "phone_country_not_allowed", "Calls to this country are not available."
            )
        number_type = _TYPE_NAMES.get(phonenumbers.number_type(parsed), "unknown")
        if number_type in self.blocked_types:
            raise PhoneRejected(
                f"phone_type_{number_type.replace('-', '_')}",
                _TYPE_MESSAGES.get(number_type, "This kind of number cannot be called back."),
            )
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        if e164.startswith(self.blocked_prefixes):
            raise PhoneRejected("phone_prefix_blocked", "Numbers in this range cannot be called.")
        return PhoneNumber(e164=e164, region=region, number_type=number_type)


def digest(e164: str, key: str) -> str:
    """A keyed hash of a number: equal numbers match, and the hash does not reveal the number
    (an unkeyed hash of a phone number is easily reversed by trying them all)."""
    return hmac.new(key.encode(), e164.encode(), hashlib.sha256).hexdigest()


def mask(e164: str) -> str:
    """``+380671112233`` -> ``+38067*****33``: enough to tell calls apart, not to dial."""
    if len(e164) <= 8:
        return "*" * len(e164)
    return e164[:6] + "*" * (len(e164) - 8) + e164[-2:]
