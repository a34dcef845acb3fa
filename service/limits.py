"""Rate limits with flask-limiter: per client IP, per destination number, and a global cap.

The per-IP limit counts every attempt, valid or not. The per-number and global limits count
only requests that would lead to a call, so nobody can exhaust them with garbage; the number is
hashed in the key so storage (Redis) never holds it in clear.
"""

from __future__ import annotations

import math
import time

import limits
from flask import Flask, current_app, request
from flask_limiter import Limiter

from .config import Settings
from .phone import digest


def client_ip() -> str:
    # ProxyFix, when configured, has already put the trusted hop into remote_addr.
    return request.remote_addr or "unknown"


limiter = Limiter(key_func=client_ip, headers_enabled=False, key_prefix="callgate")


class LimitExceeded(Exception):
    def __init__(self, scope: str, retry_after: int) -> None:
        super().__init__(scope)
        self.scope = scope
        self.retry_after = retry_after


def init_app(app: Flask, settings: Settings) -> None:
    app.config["RATELIMIT_STORAGE_URI"] = settings.ratelimit_storage_url
    app.config["RATELIMIT_STRATEGY"] = "moving-window"
    limiter.init_app(app)


def per_ip_limit() -> str:
    settings: Settings = current_app.extensions["callgate"].settings
    return settings.limit_per_ip


def check_destination(settings: Settings, e164: str, region: str) -> None:
    """Count one request that will lead to a call; raise :class:`LimitExceeded` when over."""
    checks = [
        ("phone", item, digest(e164, settings.secret_key))
        for item in limits.parse_many(settings.limit_per_phone)
    ] + [("global", item, "all") for item in limits.parse_many(settings.limit_global)]
    checks += [("country", item, region) for item in limits.parse_many(settings.limit_per_country)]
    strategy = limiter.limiter
    for scope, item, key in checks:
        if not strategy.test(item, scope, key):
            reset_at = strategy.get_window_stats(item, scope, key).reset_time
            raise LimitExceeded(scope, _seconds_until(reset_at, item))
    for scope, item, key in checks:
        strategy.hit(item, scope, key)


def retry_after_current() -> int:
    """Seconds until the limit that just refused this request lets another through."""
    current = limiter.current_limit
    if current is None:
        return 60
    return _seconds_until(current.reset_at, current.limit)


def _seconds_until(reset_at: float, item: limits.RateLimitItem) -> int:
    # Storages round the reset time up; never ask for more than one window.
    return max(1, min(math.ceil(reset_at - time.time()), item.get_expiry()))
