"""Where Ringostat can send a call: a number in international format or a SIP login.

Ringostat's call-routing webhook forwards the call to whatever the answer names. A number goes
as international digits without ``+`` (``380671112233``, as in Ringostat's own example); a SIP
login goes as it is spelt in the project (``supportrngst_manager1``). Anything else is refused
here, at start-up or before it is stored, never in the middle of a live call.
"""

from __future__ import annotations

import re

# A number as people write it in configuration: digits, an optional leading +, separators.
_NUMBER = re.compile(r"^\+?[0-9][0-9 ()\-]{5,22}$")
# Ringostat SIP logins are letters, digits, '_', '-' and '.'; '@' allows login@domain forms.
_SIP_LOGIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@\-]{0,63}$")


def destination(text: str) -> str:
    """Normalise a destination; raise ``ValueError`` with a readable reason.

    Short all-digit values (``101``) are internal SIP logins, not numbers: they stay as given.
    """
    value = text.strip()
    if _NUMBER.match(value) and sum(c.isdigit() for c in value) >= 7:
        digits = re.sub(r"\D", "", value)
        if not 7 <= len(digits) <= 15:
            raise ValueError(f"{text!r} is not a number in international format")
        return digits
    if _SIP_LOGIN.match(value):
        return value
    raise ValueError(
        f"{text!r} is neither a number in international format (380671112233) nor a SIP login"
    )


def is_number(value: str) -> bool:
    """Whether a normalised destination is a phone number (so logs mask it)."""
    return value.isdigit() and len(value) >= 7
