"""Signed form tokens: proof that a submission comes from a page that loaded our config.

A token is ``<issued at, unix seconds to the millisecond>.<HMAC-SHA256 of it with
CALLGATE_SECRET_KEY>`` (tokens issued with whole seconds still verify). It is
refused when forged, when older than a few hours (replayed from a scrape) or younger than a
couple of seconds (no person fills a form that fast; scripts do).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

# ASCII digits only: str.isdigit() also takes "²" and "١", which int() and float() treat apart.
_ISSUED = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,6})?", re.ASCII)


class TokenRejected(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _sign(issued: str, key: str) -> bytes:
    digest = hmac.new(key.encode(), b"form:" + issued.encode(), hashlib.sha256).hexdigest()
    return digest[:32].encode()


def issue(key: str, now: float | None = None) -> str:
    """A token issued ``now`` (default: this moment), timed to the millisecond."""
    issued = f"{time.time() if now is None else now:.3f}"
    return f"{issued}.{_sign(issued, key).decode()}"


def verify(
    token: str | None, key: str, min_age: float, max_age: float, now: float | None = None
) -> None:
    """Raise :class:`TokenRejected` unless ``token`` is ours and of a plausible age."""
    if not token:
        raise TokenRejected("form_token_missing", "Reload the page and try again.")
    issued, _, signature = token.rpartition(".")
    # Bytes: compare_digest refuses non-ASCII text with a TypeError (a 500) instead of False.
    given = signature.encode("utf-8", "replace")
    if not _ISSUED.fullmatch(issued) or not hmac.compare_digest(given, _sign(issued, key)):
        raise TokenRejected("form_token_invalid", "Reload the page and try again.")
    age = (time.time() if now is None else now) - float(issued)
    if age > max_age:
        raise TokenRejected("form_token_expired", "The form has expired: reload the page.")
    if age < min_age:
        raise TokenRejected("form_token_too_fast", "That was too fast; please try again.")
