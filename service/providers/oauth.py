"""A cached OAuth access token from RingCentral's JWT grant, shared by a provider's threads.

RingCentral allows about five sign-ins a minute per app and user, and an access token lives an
hour (``expires_in``, at most 3600 s). So one token serves every call until shortly before it
expires; one thread renews it while the others go on with the current token (or, when there is
none yet, wait for the new one) rather than sign in too. A
failed sign-in is remembered for a short while (or ``Retry-After``), so a queue of leads does
not turn into a burst of token requests that keeps the rate limit tripped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import requests

from .base import HttpClient, ProviderError, retry_after, snippet

log = logging.getLogger("callgate.providers.oauth")

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Renew this long before expiry (or at half the lifetime, for short-lived tokens).
RENEW_BEFORE = 300.0
# After a failed sign-in, wait this long before trying again unless told otherwise.
FAILURE_PAUSE = 10.0
CONFIG_FAULT_PAUSE = 60.0


class JwtTokenSource:
    """``POST {server}/restapi/oauth/token`` with HTTP Basic client id and secret."""

    def __init__(
        self,
        server_url: str,
        client_id: str,
        client_secret: str,
        jwt: str,
        http: HttpClient,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = f"{server_url}/restapi/oauth/token"
        self._client = (client_id, client_secret)
        self._jwt = jwt
        self._http = http
        self._clock = clock
        self._changed = threading.Condition()
        self._renewing = False
        self._token: str | None = None
        self._renew_at = 0.0
        self._expires_at = 0.0
        self._failure: ProviderError | None = None
        self._paused_until = 0.0
        self.requests_made = 0  # for tests and metrics: sign-ins, not API calls

    def token(self) -> str:
        """A valid access token, from the cache when it has one.

        One thread signs in at a time. While it does, the others keep using the current token
        if it is still valid (renewal starts minutes before expiry), and wait only when there is
        none: a slow token endpoint then delays no call that could go out.
        """
        with self._changed:
            while True:
                now = self._clock()
                valid = self._token is not None and now < self._expires_at
                if self._token and now < self._renew_at:
                    return self._token
                if self._renewing:
                    if valid and self._token:
                        return self._token
                    self._changed.wait()
                    continue
                if self._failure is not None and now < self._paused_until:
                    if valid and self._token:
                        return self._token  # renewal is paused; the old token still works
                    raise self._paused(now)
                self._renewing = True
                break
        try:
            token, lifetime = self._sign_in()
        except ProviderError as exc:
            with self._changed:
                self._done_renewing()
                self._failure = exc
                pause = CONFIG_FAULT_PAUSE if exc.config_fault else FAILURE_PAUSE
                self._paused_until = now + max(pause, exc.retry_after or 0.0)
                if self._token and self._clock() < self._expires_at:
                    log.warning(
                        "RingCentral token renewal failed (%s); using the current one", exc.message
                    )
                    return self._token
            raise
        except BaseException:
            with self._changed:
                self._done_renewing()
            raise
        with self._changed:
            # The new token is in place before any waiter wakes to look for it.
            self._failure = None
            self._token = token
            self._expires_at = now + lifetime
            self._renew_at = now + max(lifetime / 2, lifetime - RENEW_BEFORE)
            self._done_renewing()
            return token

    def _done_renewing(self) -> None:
        """Call with ``_changed`` held, after recording the sign-in's result."""
        self._renewing = False
        self._changed.notify_all()

    @property
    def current(self) -> str | None:
        """The cached token, if any, without signing in (to scrub it from quoted answers)."""
        return self._token

    def invalidate(self, token: str) -> None:
        """The API refused this token (revoked, session ended): sign in afresh next time."""
        with self._changed:
            if self._token == token:
                self._token = None
                self._renew_at = self._expires_at = 0.0

    def _paused(self, now: float) -> ProviderError:
        assert self._failure is not None
        failure = self._failure
        return ProviderError(
            f"{failure.message} (not asking again for {self._paused_until - now:.0f}s)",
            retryable=failure.retryable,
            http_status=failure.http_status,
            retry_after=self._paused_until - now,
            config_fault=failure.config_fault,
        )

    def _sign_in(self) -> tuple[str, float]:
        prepared = requests.Request(
            "POST",
            self.url,
            auth=self._client,
            data={"grant_type": JWT_GRANT, "assertion": self._jwt},
            headers={"Accept": "application/json"},
        ).prepare()
        self.requests_made += 1
        try:
            response = self._http.send(prepared)
        except ProviderError as exc:
            # No call was attempted, so a lost answer is only a failed sign-in: retry later.
            raise ProviderError(f"RingCentral sign-in: {exc.message}", retryable=True) from None
        secrets = (self._client[1], self._jwt)
        if response.status_code in (400, 401, 403):
            # invalid_grant (a bad or revoked JWT) or invalid_client: ours to fix.
            raise ProviderError(
                f"RingCentral refused our credentials (HTTP {response.status_code}): "
                f"{snippet(response.text, secrets)}",
                retryable=False,
                http_status=response.status_code,
                config_fault=True,
            )
        if not response.ok:
            error = status_error_for_sign_in(response)
            raise error
        try:
            answer = response.json()
            token = str(answer["access_token"])
            lifetime = float(answer.get("expires_in") or 3600)
        except (ValueError, KeyError, TypeError):
            raise ProviderError(
                "RingCentral sign-in answered without an access token", retryable=True
            ) from None
        log.info("RingCentral access token obtained, valid %.0fs", lifetime)
        return token, max(lifetime, 1.0)


def status_error_for_sign_in(response: requests.Response) -> ProviderError:
    """429 and 5xx at the token endpoint: passing; wait as long as RingCentral asks."""
    code = response.status_code
    wait = retry_after(response)
    if code == 429 and wait is None:
        wait = 60.0  # RingCentral's usual penalty window, when it does not say
    return ProviderError(
        f"RingCentral sign-in failed (HTTP {code})",
        retryable=True,
        http_status=code,
        retry_after=wait,
    )
