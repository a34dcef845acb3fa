"""The one interface every telephony provider implements, and the HTTP plumbing they share.

A provider turns a :class:`CallRequest` into one outbound HTTP request and the answer into a
:class:`Placement` or a :class:`ProviderError`. Providers know nothing of Flask or of the store.

Exceptions::

    ProviderError            the call was not placed
      .retryable             True: a passing fault (5xx, 429, refused connection); try later
      .config_fault          True: our credentials or settings are wrong (401/403); alert
      .outcome_unknown       True: the request may have reached the provider (read timeout);
                             retrying could ring the visitor twice, so the dispatcher does not
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.request import getproxies

import requests

from ..attribution import Attribution
from ..logs import mask_numbers

log = logging.getLogger("callgate.providers")


@dataclass(frozen=True)
class CallRequest:
    """What a provider needs to know about a lead, and nothing more.

    ``attribution`` is the lead's whole attribution; each provider sends the fields it has a
    parameter for (``service.attribution.params``).
    """

    lead_id: str
    phone: str  # E.164
    name: str | None = None
    attribution: Attribution = field(default_factory=Attribution)


@dataclass(frozen=True)
class Placement:
    """The provider accepted the call. ``reference`` is its id for the call, when it has one.

    ``destination`` is where the agent's leg went, when the provider knows it is one number
    (international digits) or SIP login: a later call from the visitor is routed there
    (sticky routing). None when the provider picks the agent itself (a scheme, a queue).
    """

    status: str = "placed"
    reference: str | None = None
    destination: str | None = None
    http_status: int | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


class ProviderError(Exception):
    """The call was not placed; see the module docstring for the flags."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        http_status: int | None = None,
        retry_after: float | None = None,
        config_fault: bool = False,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.http_status = http_status
        self.retry_after = retry_after
        self.config_fault = config_fault
        self.outcome_unknown = outcome_unknown


class Provider(Protocol):
    name: str
    # Where every call this provider places rings the agent, when that is one number or SIP
    # login (see Placement.destination); None when it is not or the provider cannot say.
    destination: str | None

    def place(self, call: CallRequest) -> Placement: ...

    def describe(self, call: CallRequest) -> dict[str, Any]:
        """The request :meth:`place` would send, secrets masked (for dry-run and logs)."""
        ...


@dataclass(frozen=True)
class CallState:
    """What a provider says about a placed call.

    ``status`` is the lead status it maps to: ``placed`` (still going: ask again later),
    ``connected`` or ``failed``. ``reason`` is the provider's own word for a failure, kept as
    written even when we do not know it; ``raw`` is its whole answer in short, for operators.
    """

    status: str
    reason: str | None = None
    raw: str = ""

    @property
    def final(self) -> bool:
        return self.status != "placed"


class Tracking(Protocol):
    """Optional: a provider that can report on and cancel a call it placed (RingCentral)."""

    def status(self, placement: Placement) -> CallState:
        """The call's state now; :class:`ProviderError` when the provider cannot say."""
        ...

    def cancel(self, placement: Placement) -> None:
        """Stop a call that is still ringing; :class:`ProviderError` when it cannot."""
        ...


class HttpClient:
    """One pooled ``requests.Session`` per provider, a timeout on every call, errors mapped once.

    Sessions are not documented as thread-safe, and dispatch runs in several threads, so each
    thread keeps its own session (its own connection pool) for this provider.
    """

    def __init__(self, connect_timeout: float, read_timeout: float) -> None:
        self.timeout = (connect_timeout, read_timeout)
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = "callgate/0.1"
            # Proxies from the environment once, not per request (requests re-reads the
            # environment and netrc on every call when trust_env is on).
            session.trust_env = False
            session.proxies.update(getproxies())
            self._local.session = session
        return session

    def send(self, prepared: requests.PreparedRequest) -> requests.Response:
        """Send, mapping transport failures to :class:`ProviderError`."""
        try:
            return self.session.send(prepared, timeout=self.timeout, allow_redirects=False)
        except requests.ConnectTimeout:
            raise ProviderError("connect timeout", retryable=True) from None
        except requests.ReadTimeout:
            raise ProviderError(
                "read timeout: the provider may have placed the call",
                retryable=False,
                outcome_unknown=True,
            ) from None
        except requests.ConnectionError as exc:
            # Refused or reset before a request went out is safe to retry; a connection
            # dropped after the body was sent is as unknown as a read timeout.
            if _sent(exc):
                raise ProviderError(
                    "connection lost after the request was sent",
                    retryable=False,
                    outcome_unknown=True,
                ) from None
            raise ProviderError("connection failed", retryable=True) from None
        except requests.RequestException as exc:
            raise ProviderError(f"request failed: {type(exc).__name__}", retryable=True) from None


def _sent(exc: requests.ConnectionError) -> bool:
    """Whether the failure happened after the request was on the wire."""
    text = repr(exc.args[0]) if exc.args else ""
    return "RemoteDisconnected" in text or "Connection aborted" in text


def retry_after(response: requests.Response) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds; dates are ignored."""
    value = response.headers.get("Retry-After", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def status_error(
    response: requests.Response, what: str, secrets: tuple[str, ...] = ()
) -> ProviderError:
    """The common HTTP status rules: 401/403 config fault, 400 bad number, 429/5xx passing.

    ``secrets`` are scrubbed from the quoted answer: some APIs echo the request back.
    """
    code = response.status_code
    if code in (401, 403):
        return ProviderError(
            f"{what} refused our credentials or settings (HTTP {code})",
            retryable=False,
            http_status=code,
            config_fault=True,
        )
    if code == 429:
        return ProviderError(
            f"{what} is rate limiting us (HTTP 429)",
            retryable=True,
            http_status=code,
            retry_after=retry_after(response),
        )
    if code >= 500:
        return ProviderError(f"{what} failed (HTTP {code})", retryable=True, http_status=code)
    return ProviderError(
        f"{what} refused the call (HTTP {code}): {snippet(response.text, secrets)}",
        retryable=False,
        http_status=code,
    )


def snippet(text: str, secrets: tuple[str, ...] = ()) -> str:
    """A provider's words, short, on one line, with our secrets replaced by ``***`` and the
    numbers it names masked (they are kept as the lead's ``last_error`` and sent in alerts)."""
    text = text[:1000]  # masked before the cut: a number cut in half would go unmasked
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return mask_numbers(text)[:200].replace("\n", " ").strip()


def describe_prepared(
    prepared: requests.PreparedRequest, secret_headers: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A JSON-able picture of a prepared request with the named headers masked."""
    headers = {
        k: ("***" if k.lower() in {h.lower() for h in secret_headers} else v)
        for k, v in prepared.headers.items()
    }
    body: Any = prepared.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and headers.get("Content-Type", "").startswith("application/json"):
        body = json.loads(body)
    return {"method": prepared.method, "url": prepared.url, "headers": headers, "body": body}
