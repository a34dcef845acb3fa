"""Leads: the model, the lifecycle, the task queue, the durable store and its migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from .lifecycle import IllegalTransition, LeadStatus
from .model import Attempt, Lead
from .queue import ClaimedTask, NewTask
from .store import IdempotencyConflict, LeadStore

__all__ = [
    "Attempt",
    "ClaimedTask",
    "IdempotencyConflict",
    "IllegalTransition",
    "Lead",
    "LeadStatus",
    "LeadStore",
    "NewTask",
    "migrate",
]

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def migrate(store: LeadStore) -> None:
    """Bring the schema to the newest revision (idempotent; safe for concurrent starts)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as connection:
        if store.is_postgres:
            # Two instances starting together must not both create the tables.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(4177001)")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
