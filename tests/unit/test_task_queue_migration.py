"""Revision 0007_task_queue moves each lead's due work into tasks and keeps every lead."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from service.database import migrate
from service.database.schema import MIGRATIONS
from service.leads import LeadStore
from service.leads.model import utcnow


def _upgrade(store: LeadStore, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_due_work_becomes_tasks(tmp_path: Path) -> None:
    store = LeadStore(f"sqlite:///{tmp_path}/callgate.db")
    _upgrade(store, "0004")
    now = utcnow()
    later = now + timedelta(minutes=5)
    rows = [  # id, status, due_at, in_flight, provider_ref
        ("queued-now", "queued", now, False, None),
        ("queued-later", "queued", later, False, None),
        ("waiting", "waiting_for_agent", later, False, None),
        ("polled", "placed", later, False, "ref-1"),
        ("placed-done", "placed", None, False, "ref-2"),
        ("mid-claim", "dispatching", now, False, None),
        ("mid-call", "dispatching", now, True, None),
        ("failed", "failed", None, False, None),
    ]
    with store.engine.begin() as conn:
        for lead_id, status, due_at, in_flight, ref in rows:
            conn.execute(
                text(
                    "INSERT INTO leads (id, created_at, updated_at, phone, status, due_at, "
                    "in_flight, attempt_count, confirmed, provider_ref, agent_checks) VALUES "
                    "(:id, :now, :now, '+380671112233', :status, :due, :flight, 1, 1, :ref, 0)"
                ),
                {
                    "id": lead_id,
                    "now": now,
                    "status": status,
                    "due": due_at,
                    "flight": in_flight,
                    "ref": ref,
                },
            )
            conn.execute(
                text("INSERT INTO attempts (lead_id, started_at, outcome) VALUES (:id, :now, 'x')"),
                {"id": lead_id, "now": now},
            )
    migrate(store)

    with store.engine.connect() as conn:
        tasks = {
            lead_id: (kind, state)
            for lead_id, kind, state in conn.execute(text("SELECT lead_id, kind, state FROM tasks"))
        }
        statuses = dict(conn.execute(text("SELECT id, status FROM leads")).all())
        attempts = conn.execute(text("SELECT count(*) FROM attempts")).scalar_one()
        columns = {row[1] for row in conn.execute(text("PRAGMA table_info(leads)"))}
    assert tasks == {
        "queued-now": ("place_call", "pending"),
        "queued-later": ("place_call", "pending"),
        "waiting": ("recheck_agents", "pending"),
        "polled": ("poll_call_status", "pending"),
        "mid-claim": ("place_call", "pending"),
    }
    assert statuses["mid-claim"] == "queued"
    assert statuses["mid-call"] == "placed"  # may have reached the provider: never resent
    mid_call = store.get("mid-call")
    assert mid_call is not None and mid_call.confirmed is False
    assert attempts == len(rows)  # no cascade from rebuilding the table
    assert not columns & {"due_at", "lease_until", "in_flight"}
    [later_task] = store.tasks.of_lead("queued-later")
    assert later_task.due_at == later
    store.close()
