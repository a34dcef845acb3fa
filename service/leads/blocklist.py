"""Numbers nobody may ask us to call, stored as keyed hashes (``phone.digest``).

Every accepted lead is checked against the blocklist, and a query per request costs more in
the database layer than the rest of the check together. Operators block numbers by hand, so
the list is short and changes rarely: each process keeps a copy and reads it again after
``ttl`` seconds (a block added by the CLI applies everywhere within that time, at once in the
process that added it). A list too long to copy is asked per number instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, delete, insert, or_, select

from ..database.engine import rowcount
from .model import BlockedNumber, utcnow

BLOCKED: Table = BlockedNumber.__table__  # type: ignore[assignment]
# A block added by another process (the CLI) applies within this many seconds
# (CALLGATE_BLOCKLIST_REFRESH); a longer list than this is asked per number instead.
REFRESH = 5.0
COPY_LIMIT = 10_000
_UNTIL = select(BLOCKED.c.expires_at).where(BLOCKED.c.digest == bindparam("digest"))
_IN_FORCE = (
    select(BLOCKED.c.digest, BLOCKED.c.expires_at)
    .where(or_(BLOCKED.c.expires_at.is_(None), BLOCKED.c.expires_at > bindparam("now")))
    .limit(bindparam("limit"))
)
_ADD = insert(BLOCKED)
_REMOVE = delete(BLOCKED).where(BLOCKED.c.digest == bindparam("digest"))
_ALL = select(BLOCKED).order_by(BLOCKED.c.created_at)

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


class Blocklist:
    """The blocked numbers in the database, with this process's copy."""

    def __init__(
        self,
        engine: Engine,
        transaction: Callable[[], AbstractContextManager[Connection]],
        refresh: float = REFRESH,
        copy_limit: int = COPY_LIMIT,
    ) -> None:
        self._engine = engine
        self._transaction = transaction
        self._cache = BlocklistCache(self._in_force, self._blocked, refresh, copy_limit)

    def __contains__(self, number_digest: str) -> bool:
        return number_digest in self._cache

    def add(
        self, number_digest: str, masked: str, expires_at: datetime | None, reason: str | None
    ) -> None:
        """Block a number (again: its expiry and reason replaced)."""
        row = {"digest": number_digest, "masked": masked, "expires_at": expires_at}
        with self._transaction() as conn:
            conn.execute(_REMOVE, {"digest": number_digest})
            conn.execute(_ADD, {**row, "created_at": utcnow(), "reason": reason})
        self._cache.invalidate()

    def remove(self, number_digest: str) -> bool:
        """Unblock a number; False when it was not blocked."""
        with self._transaction() as conn:
            removed = conn.execute(_REMOVE, {"digest": number_digest})
        self._cache.invalidate()
        return rowcount(removed) == 1

    def entries(self) -> Sequence[Any]:
        """Every block, expired or not, oldest first (for operators)."""
        with self._engine.connect() as conn:
            return conn.execute(_ALL).all()

    def _blocked(self, number_digest: str) -> bool:
        with self._engine.connect() as conn:
            row = conn.execute(_UNTIL, {"digest": number_digest}).first()
        return row is not None and in_force(row[0])

    def _in_force(self, limit: int) -> dict[str, datetime | None] | None:
        """Every block in force, or None when there are more than ``limit``."""
        with self._engine.connect() as conn:
            rows = conn.execute(_IN_FORCE, {"now": utcnow(), "limit": limit + 1}).all()
        return None if len(rows) > limit else {digest: expires for digest, expires in rows}
