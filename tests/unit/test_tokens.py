"""Form tokens: the minimum age is measured to the millisecond, not from whole seconds."""

from __future__ import annotations

import pytest

from service.tokens import TokenRejected, issue, verify

KEY = "test-secret-key-0123456789"


@pytest.mark.parametrize("issued_at", [1_795_857_864.0, 1_795_857_864.9, 1_795_857_864.999])
def test_a_token_younger_than_the_minimum_fails_whatever_the_fraction(issued_at: float) -> None:
    token = issue(KEY, now=issued_at)
    with pytest.raises(TokenRejected) as rejected:
        verify(token, KEY, min_age=2.0, max_age=3600, now=issued_at + 1.1)
    assert rejected.value.code == "form_token_too_fast"
    verify(token, KEY, min_age=2.0, max_age=3600, now=issued_at + 2.01)


def test_a_token_issued_in_whole_seconds_still_verifies() -> None:
    # Tokens handed out before an upgrade stay valid for their lifetime.
    import hashlib
    import hmac

    signature = hmac.new(KEY.encode(), b"form:1795857864", hashlib.sha256).hexdigest()[:32]
    verify(f"1795857864.{signature}", KEY, min_age=2.0, max_age=3600, now=1_795_857_870.0)


def test_the_signature_covers_the_fraction() -> None:
    token = issue(KEY, now=1_795_857_864.25)
    issued, _, signature = token.rpartition(".")
    with pytest.raises(TokenRejected):
        verify(f"1795857860.25.{signature}", KEY, min_age=0, max_age=3600, now=1_795_857_870.0)
    with pytest.raises(TokenRejected):
        verify(f"{issued}0.{signature}", KEY, min_age=0, max_age=3600, now=1_795_857_870.0)
