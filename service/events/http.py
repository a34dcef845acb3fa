"""The outbound HTTP client for events: pooled sessions and a (connect, read) timeout on every call.

Deliveries are at least once, so unlike a call to a provider, any failure to hear a 2xx — a
refused connection, a timeout, a reset, any other status — is simply tried again later.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from urllib.parse import urlsplit
from urllib.request import getproxies

import requests

from .outbox import DeliveryResult, delivered, not_delivered

USER_AGENT = "callgate-events/0.1"


class Outbound:
    """One ``requests.Session`` per thread (sessions are not documented as thread-safe)."""

    def __init__(self, connect_timeout: float = 3.05, read_timeout: float = 10.0) -> None:
        self.timeout = (connect_timeout, read_timeout)
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = USER_AGENT
            # Proxies from the environment once; no netrc credentials sent to receivers.
            session.trust_env = False
            session.proxies.update(getproxies())
            self._local.session = session
        return session

    def post(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        attempt: int,
        elapsed: float | None = None,
    ) -> DeliveryResult:
        """POST once: a 2xx delivers; anything else is a retry while the schedule allows."""
        where = host_of(url)
        try:
            response = self.session.post(
                url, data=body, headers=dict(headers), timeout=self.timeout, allow_redirects=False
            )
        except requests.Timeout:
            return not_delivered(f"{where}: timeout", attempt=attempt, elapsed=elapsed)
        except requests.ConnectionError:
            return not_delivered(f"{where}: connection failed", attempt=attempt, elapsed=elapsed)
        except requests.RequestException as exc:
            return not_delivered(f"{where}: {type(exc).__name__}", attempt=attempt, elapsed=elapsed)
        # The answer's body is the receiver's business: requests read it, we do not keep it.
        response.close()
        code = response.status_code
        if 200 <= code < 300:
            return delivered(f"{where}: HTTP {code}", code)
        return not_delivered(
            f"{where}: HTTP {code}", attempt=attempt, elapsed=elapsed, http_status=code
        )


def host_of(url: str) -> str:
    """The part of a URL that is safe to log: scheme, host and port, no path or query."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


_shared: dict[tuple[float, float], Outbound] = {}
_shared_lock = threading.Lock()


def shared(connect_timeout: float, read_timeout: float) -> Outbound:
    """The process's client for these timeouts, so every handler reuses one pool."""
    with _shared_lock:
        key = (connect_timeout, read_timeout)
        if key not in _shared:
            _shared[key] = Outbound(connect_timeout, read_timeout)
        return _shared[key]
