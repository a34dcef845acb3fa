"""Rate limits with flask-limiter: per client IP, per destination number, and a global cap.

The per-IP limit counts every attempt, valid or not. The per-number and global limits count
only requests that would lead to a call, so nobody can exhaust them with garbage; the number is
hashed in the key so storage (Redis) never holds it in clear.

Two ways of counting (limits' strategies). The per-number limit is a moving window, exact:
never more than its count in any hour, the promise made to the person called. The others
(per IP, global, per country) are sliding-window counters: two counters a key, where a moving
window keeps an entry per request. At hundreds of requests a second a moving window over a
high global limit made Redis search a list of thousands of entries (a binary search of LINDEX
calls) for every request; a counter costs the same at any volume. It weighs the previous window
as if its requests were spread evenly, so a burst at a window's end can let through up to
(never quite) twice the limit within one rolling window, and exactly the limit on average.

Several instances share one budget through Redis. When the shared storage does not answer,
every process keeps taking leads under its own, stricter, in-memory limits
(``CALLGATE_LIMIT_FALLBACK_*``) rather than failing or letting everything through; flask-limiter
probes the storage with backoff and returns to the shared budget once it answers. ``/readyz``
reports the degradation.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from functools import cache

import limits
from flask import Flask, current_app, request
from flask_limiter import Limiter
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage
from limits.strategies import (
    MovingWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)

from .addresses import address_key
from .config import IN_MEMORY_LIMITS, Settings
from .phone import digest


def client_ip() -> str:
    """The client as the per-address limits count it: its address, or its IPv6 network.

    ProxyFix, when configured, has already put the trusted hop into ``remote_addr``.
    """
    settings: Settings = current_app.extensions["callgate"].settings
    return address_key(request.remote_addr or "unknown", settings.client_address.ipv6_prefix)


class TrimmedMemoryStorage(MemoryStorage):
    """limits' in-process storage, with its housekeeping once a second instead of every 10 ms.

    ``MemoryStorage`` re-arms a 10 ms timer on every hit, and each run walks every key (a
    lock, a bisect and a slice each). Keys are client addresses and hashed numbers, so the cost
    grows with traffic: at 5,000 keys a run takes about 4 ms, some 40% of a core. A window is
    counted from its entries when it is checked, so the trimming only reclaims memory and can
    wait. It overrides the base class's private scheduler: ``tests/unit/test_limits_storage``
    fails if an upgrade of limits renames it.
    """

    STORAGE_SCHEME = ["callgate-memory"]  # noqa: RUF012 - limits' own declaration
    TRIM_EVERY = 1.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - the base's private name
        if not self.timer.is_alive():
            trim = self._MemoryStorage__expire_events  # type: ignore[attr-defined]
            self.timer = threading.Timer(self.TRIM_EVERY, trim)
            self.timer.daemon = True
            self.timer.start()


def storage_uri(configured: str) -> str:
    """The storage URI limits should open: ours in place of the plain in-process one."""
    return "callgate-memory://" if configured == IN_MEMORY_LIMITS else configured


limiter = Limiter(key_func=client_ip, headers_enabled=False, key_prefix="callgate")
log = logging.getLogger("callgate.limits")

# A Redis that hangs must not hang the visitor's request: fail fast, then fall back.
_REDIS_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
DEGRADED = "degraded: in-memory fallback"


class LimitExceeded(Exception):
    def __init__(self, scope: str, retry_after: int) -> None:
        super().__init__(scope)
        self.scope = scope
        self.retry_after = retry_after


def init_app(app: Flask, settings: Settings) -> None:
    app.config["RATELIMIT_STORAGE_URI"] = storage_uri(settings.ratelimit_storage_url)
    app.config["RATELIMIT_STRATEGY"] = "sliding-window-counter"  # the per-IP limit
    options: dict[str, object] = {"wrap_exceptions": True}
    if settings.ratelimit_storage_url.startswith(("redis://", "rediss://", "redis+")):
        options.update(_REDIS_OPTIONS)
    app.config["RATELIMIT_STORAGE_OPTIONS"] = options
    # While the storage is down, these replace the per-IP limit, per process.
    app.config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] = True
    app.config["RATELIMIT_IN_MEMORY_FALLBACK"] = fallback_per_ip_limit
    # One module-level Limiter serves every app this process builds (tests build many): a new
    # app starts on its own storage, not in the previous app's fallback.
    limiter._storage_dead = False
    app.extensions["callgate.local_limits"] = TrimmedMemoryStorage()
    limiter.init_app(app)


def per_ip_limit() -> str:
    settings: Settings = current_app.extensions["callgate"].settings
    return settings.limit_per_ip


def fallback_per_ip_limit() -> str:
    settings: Settings = current_app.extensions["callgate"].settings
    return settings.limit_fallback_per_ip


def _falling_back() -> bool:
    # flask-limiter keeps this state in a private flag (set on a storage error, cleared when a
    # probe succeeds); this is its one reader, so an upgrade that renames it breaks one place.
    return bool(limiter._storage_dead)


def degraded() -> bool:
    """True while this process enforces its in-memory fallback (or would, on the next request)."""
    return _falling_back() or not limiter.storage.check()


def check_destination(settings: Settings, e164: str, region: str, per_number: bool = True) -> None:
    """Count one request that will lead to a call; raise :class:`LimitExceeded` when over.

    Against the shared storage when it answers; else against this process's memory with the
    stricter fallback limits, as flask-limiter does for the per-IP limit. ``per_number``
    False: a repeat that de-duplication absorbs, which calls nobody, is not counted against
    the number (the global and per-country limits count it, as they would a fresh request).
    """
    key = digest(e164, settings.secret_key)
    if not _falling_back():
        try:
            _enforce(
                limiter.storage,
                settings.limit_per_phone if per_number else "",
                settings.limit_global,
                settings.limit_per_country,
                key,
                region,
            )
            return
        except StorageError as exc:
            log.warning("rate-limit storage unreachable (%s): in-memory fallback", exc)
    _enforce(
        current_app.extensions["callgate.local_limits"],
        settings.limit_fallback_per_phone if per_number else "",
        settings.limit_fallback_global,
        settings.limit_per_country,
        key,
        region,
    )


def _enforce(
    storage: Storage,
    per_phone: str,
    per_all: str,
    per_country: str,
    phone_hash: str,
    region: str,
) -> None:
    exact: RateLimiter = MovingWindowRateLimiter(storage)
    counted: RateLimiter = SlidingWindowCounterRateLimiter(storage)
    checks: list[tuple[RateLimiter, str, limits.RateLimitItem, str]] = (
        [(exact, "phone", item, phone_hash) for item in (_parsed(per_phone) if per_phone else ())]
        + [(counted, "global", item, "all") for item in _parsed(per_all)]
        + [(counted, "country", item, region) for item in _parsed(per_country)]
    )
    # A look first, so a request that one limit refuses takes nothing from the others...
    for strategy, scope, item, key in checks:
        if not strategy.test(item, scope, key):
            raise _exceeded(strategy, scope, item, key)
    # ...then each hit is the storage's own atomic check-and-count (in memory a lock, or an
    # increment taken back on overshoot; in Redis a script): requests that all passed the look
    # at once cannot all be counted in.
    for strategy, scope, item, key in checks:
        if not strategy.hit(item, scope, key):
            raise _exceeded(strategy, scope, item, key)


def _exceeded(
    strategy: RateLimiter, scope: str, item: limits.RateLimitItem, key: str
) -> LimitExceeded:
    reset_at = strategy.get_window_stats(item, scope, key).reset_time
    return LimitExceeded(scope, _seconds_until(reset_at, item))


@cache
def _parsed(spec: str) -> tuple[limits.RateLimitItem, ...]:
    # A handful of settings strings, parsed once rather than on every request.
    return tuple(limits.parse_many(spec))


def retry_after_current() -> int:
    """Seconds until the limit that just refused this request lets another through."""
    current = limiter.current_limit
    if current is None:
        return 60
    return _seconds_until(current.reset_at, current.limit)


def _seconds_until(reset_at: float, item: limits.RateLimitItem) -> int:
    # Storages round the reset time up; never ask for more than one window.
    return max(1, min(math.ceil(reset_at - time.time()), item.get_expiry()))
