"""The per-process blocklist copy: read whole and reused, expiries honoured, long lists asked."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from service.database import migrate
from service.leads import LeadStore
from service.leads.blocklist import BlocklistCache
from service.leads.model import utcnow


def test_one_read_serves_many_checks_until_the_refresh() -> None:
    reads: list[int] = []

    def load(limit: int) -> dict[str, datetime | None]:
        reads.append(limit)
        return {"forever": None, "expired": utcnow() - timedelta(seconds=1)}

    cache = BlocklistCache(load, lambda _digest: True, ttl=60, limit=100)
    assert ["forever" in cache, "expired" in cache, "other" in cache] == [True, False, False]
    assert reads == [100]
    cache.invalidate()
    assert "forever" in cache
    assert len(reads) == 2


def test_a_list_too_long_to_copy_is_asked_per_number() -> None:
    asked: list[str] = []

    def lookup(digest: str) -> bool:
        asked.append(digest)
        return digest == "blocked"

    cache = BlocklistCache(lambda _limit: None, lookup, ttl=60, limit=100)
    assert ["blocked" in cache, "free" in cache] == [True, False]
    assert asked == ["blocked", "free"]


def test_the_store_copies_only_blocks_in_force_and_gives_up_past_its_limit(
    tmp_path: Path,
) -> None:
    store = LeadStore(f"sqlite:///{tmp_path}/callgate.db")
    migrate(store)
    store.blocklist.add("a", "x", None, None)
    store.blocklist.add("b", "x", utcnow() + timedelta(days=1), None)
    store.blocklist.add("c", "x", utcnow() - timedelta(days=1), None)
    assert set(store.blocklist._in_force(10) or {}) == {"a", "b"}
    assert store.blocklist._in_force(1) is None
    store.close()
