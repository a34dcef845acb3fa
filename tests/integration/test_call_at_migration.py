"""Revision 0011_lead_call_at, down and up again on SQLite and PostgreSQL, loses nothing: not
the leads, not their tasks, attempts or aliases (a copy of the leads table on SQLite would
drop them all by cascade)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from service.database import migrate
from service.leads import Lead, LeadStatus, LeadStore
from service.leads.admission import ALIASES
from service.leads.model import Attempt, Task, utcnow
from service.tasks import queue
from tests.migrations import alembic_to


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> LeadStore:
    url = (
        request.getfixturevalue("pg_database")
        if request.param == "postgres"
        else f"sqlite:///{tmp_path}/callgate.db"
    )
    found = LeadStore(url)
    migrate(found)
    request.addfinalizer(found.close)
    return found


def _counts(store: LeadStore) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (Lead.__table__, Task.__table__, Attempt.__table__, ALIASES)
        }


def test_down_and_up_again_keeps_every_lead_task_attempt_and_alias(store: LeadStore) -> None:
    lead, _ = store.insert(Lead(phone="+380671112233", status=LeadStatus.QUEUED))
    with store.transaction() as conn:
        conn.execute(Attempt.__table__.insert(), {"lead_id": lead.id, "outcome": "retry"})
        conn.execute(
            ALIASES.insert(),
            {"id": "alias-1", "lead_id": lead.id, "status": "queued", "created_at": utcnow()},
        )
    before = _counts(store)
    assert before == {"leads": 1, "tasks": 1, "attempts": 1, "lead_aliases": 1}
    alembic_to(store, "0010_drop_ip_indexes", upgrade=False)
    assert _counts(store) == before
    migrate(store)
    assert _counts(store) == before
    [task] = store.tasks.of_lead(lead.id)
    assert (task.kind, task.state) == (queue.PLACE_CALL, queue.PENDING)
