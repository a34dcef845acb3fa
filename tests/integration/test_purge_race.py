"""`callgate leads purge` against an operator's `leads retry` on PostgreSQL, where the retry
may commit between the purge's read of old ended leads and its write: the lead queued again
must keep its number (a masked one would be dialled)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, update

from service.database import migrate
from service.leads import Lead, LeadStore, retention
from service.leads.model import utcnow
from service.leads.store import LEADS


@pytest.fixture
def stores(pg_database: str) -> Iterator[tuple[LeadStore, LeadStore]]:
    purger, operator = LeadStore(pg_database), LeadStore(pg_database)
    migrate(purger)
    yield purger, operator
    purger.close()
    operator.close()


def test_a_lead_retried_while_the_purge_runs_keeps_its_number(
    stores: tuple[LeadStore, LeadStore],
) -> None:
    purger, operator = stores
    lead, _ = purger.insert(Lead(phone="+380671112233", provider="dry-run"))
    with purger.transaction() as conn:  # failed, a hundred days ago
        old = utcnow() - timedelta(days=100)
        conn.execute(
            update(LEADS).where(LEADS.c.id == lead.id).values(status="failed", created_at=old)
        )
    retried: list[bool] = []

    def retry_after_the_read(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().startswith("SELECT leads.id, leads.phone") and not retried:
            # Another process's operator, committing while the purge goes on.
            thread = threading.Thread(target=lambda: retried.append(operator.retry(lead.id)))
            thread.start()
            thread.join()

    event.listen(purger.engine, "after_cursor_execute", retry_after_the_read)
    try:
        anonymised, kept = retention.purge(purger, utcnow() - timedelta(days=90))
    finally:
        event.remove(purger.engine, "after_cursor_execute", retry_after_the_read)
    assert retried == [True]
    assert (anonymised, kept) == (0, 1)
    found = operator.get(lead.id)
    assert found is not None and found.status == "queued"
    assert (found.phone, found.anonymised_at) == ("+380671112233", None)
