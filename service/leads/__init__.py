"""Leads: the model, the durable store and its migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from .model import Attempt, Lead
from .store import IdempotencyConflict, LeadStore, Outcome

__all__ = ["Attempt", "IdempotencyConflict", "Lead", "LeadStore", "Outcome", "migrate"]

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
