"""Signed form tokens: proof that a submission comes from a page that loaded our config.

A token is ``<issued at, unix seconds>.<HMAC-SHA256 of it with CALLGATE_SECRET_KEY>``. It is
refused when forged, when older than a few hours (replayed from a scrape) or younger than a
couple of seconds (no person fills a form that fast; scripts do).
"""

from __future__ import annotations

import hashlib
import hmac
import time


class TokenRejected(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _sign(issued: str, key: str) -> str:
    return hmac.new(key.encode(), b"form:" + issued.encode(), hashlib.sha256).hexdigest()[:32]


def issue(key: str, now: float | None = None) -> str:
    issued = str(int(time.time() if now is None else now))
    return f"{issued}.{_sign(issued, key)}"


def verify(
    token: str | None, key: str, min_age: float, max_age: float, now: float | None = None
) -> None:
    """Raise :class:`TokenRejected` unless ``token`` is ours and of a plausible age."""
    if not token:
        raise TokenRejected("form_token_missing", "Reload the page and try again.")
    issued, _, signature = token.partition(".")
    if not issued.isdigit() or not hmac.compare_digest(signature, _sign(issued, key)):
        raise TokenRejected("form_token_invalid", "Reload the page and try again.")
    age = (time.time() if now is None else now) - int(issued)
    if age > max_age:
        raise TokenRejected("form_token_expired", "The form has expired: reload the page.")
    if age < min_age:
        raise TokenRejected("form_token_too_fast", "That was too fast; please try again.")
