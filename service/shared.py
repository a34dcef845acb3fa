"""Redis for short shared state (agent status, who was routed last), never on the critical path.

Every call has a tight socket timeout, and after a failure Redis is left alone for a few seconds
(a small circuit breaker): callers then fall back to what this process knows. A live call being
routed must never wait on a Redis that is down or slow.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis

log = logging.getLogger("callgate.shared")

T = TypeVar("T")

KEY_PREFIX = "callgate:"
# Loopback or LAN Redis answers in well under a millisecond; 50 ms means it is in trouble.
TIMEOUT = 0.05
PAUSE_AFTER_FAILURE = 5.0


class Shared:
    """A Redis client used through :meth:`call`, which never raises a Redis error."""

    def __init__(self, url: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.client: redis.Redis = redis.Redis.from_url(
            url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT, decode_responses=True
        )
        self._clock = clock
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def call(self, what: str, action: Callable[[redis.Redis], T]) -> T | None:
        """``action(client)``, or None when Redis is paused or fails (then pause it)."""
        if self._clock() < self._paused_until:
            return None
        try:
            return action(self.client)
        except redis.RedisError as exc:
            with self._lock:
                first = self._clock() >= self._paused_until
                self._paused_until = self._clock() + PAUSE_AFTER_FAILURE
            if first:
                log.warning(
                    "Redis unavailable (%s: %s); using this process's own state for %.0fs",
                    what,
                    type(exc).__name__,
                    PAUSE_AFTER_FAILURE,
                )
            return None

    def close(self) -> None:
        self.client.close()


def connect(url: str) -> Shared | None:
    """The shared store for a ``redis://`` URL; None (process-local state) for none."""
    return Shared(url) if url else None
