"""The blocklist as each process sees it: read whole every few seconds, not once per request.

Every accepted lead is checked against the blocklist, and a query per request costs more in
the database layer than the rest of the check together. Operators block numbers by hand, so
the list is short and changes rarely: each process keeps a copy and reads it again after
``ttl`` seconds (a block added by the CLI applies everywhere within that time, at once in the
process that added it). A list too long to copy is asked per number instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

from .model import utcnow

# What the loader gives: {digest: expiry or None}, or None when there are more than it may load.
Loader = Callable[[int], dict[str, datetime | None] | None]
Lookup = Callable[[str], bool]


def in_force(expires: datetime | None) -> bool:
    """Whether a block with this expiry (None: never) still applies."""
    return expires is None or expires > utcnow()


class BlocklistCache:
    def __init__(self, load: Loader, lookup: Lookup, ttl: float, limit: int) -> None:
        self._load = load
        self._lookup = lookup
        self._ttl = ttl
        self._limit = limit
        self._copy: dict[str, datetime | None] | None = None
        self._loaded_at = -ttl
        self._lock = threading.Lock()

    def __contains__(self, number_digest: str) -> bool:
        blocked = self._current()
        if blocked is None:
            return self._lookup(number_digest)  # too many to copy: ask the database
        return number_digest in blocked and in_force(blocked[number_digest])

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = -self._ttl

    def _current(self) -> dict[str, datetime | None] | None:
        if time.monotonic() - self._loaded_at < self._ttl:
            return self._copy
        with self._lock:
            if time.monotonic() - self._loaded_at >= self._ttl:
                self._copy = self._load(self._limit)
                self._loaded_at = time.monotonic()
            return self._copy
