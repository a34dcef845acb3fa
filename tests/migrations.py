"""Alembic to a given revision, up or down, on a store's database: what `callgate db upgrade`
(head only) does not do, as an operator restoring an older backup or testing a migration would."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from service.database.schema import MIGRATIONS
from service.leads import LeadStore


def alembic_to(store: LeadStore, revision: str, *, upgrade: bool) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.upgrade if upgrade else command.downgrade)(config, revision)
