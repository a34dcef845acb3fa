"""The network a lead's (and an alias's) client counts as for the per-address cap: client_key.

An IPv6 visitor holds a whole /64; counted by its full address, it got a fresh cap of distinct
numbers with each of them. Existing rows are keyed from their ``client_ip`` with the default
prefix (``/64``): the cap looks back one hour only, so a different ``CALLGATE_IPV6_PREFIX``
applies in full an hour after the upgrade.

Revision ID: 0009_client_key
Revises: 0008_lead_aliases
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.addresses import DEFAULT_IPV6_PREFIX, address_key

revision = "0009_client_key"
down_revision = "0008_lead_aliases"
branch_labels = None
depends_on = None

# table -> its index on (client_key, created_at)
_TABLES = {"leads": "ix_leads_key_created", "lead_aliases": "ix_lead_aliases_key_created"}
_BATCH = 1000
_KEY_LENGTH = 45  # that of client_ip


def upgrade() -> None:
    for name, index in _TABLES.items():
        with op.batch_alter_table(name, recreate="never") as batch:
            batch.add_column(sa.Column("client_key", sa.String(_KEY_LENGTH)))
        _backfill(name)
        op.create_index(index, name, ["client_key", "created_at"])


def _backfill(name: str) -> None:
    """client_key from client_ip, a batch of rows at a time (the key is computed in Python,
    the same on SQLite and PostgreSQL)."""
    table = sa.table(name, sa.column("id"), sa.column("client_ip"), sa.column("client_key"))
    page = (
        sa.select(table.c.id, table.c.client_ip)
        .where(table.c.client_ip.is_not(None), table.c.id > sa.bindparam("after"))
        .order_by(table.c.id)
        .limit(_BATCH)
    )
    fill = (
        table.update()
        .where(table.c.id == sa.bindparam("row_id"))
        .values(client_key=sa.bindparam("key"))
    )
    connection = op.get_bind()
    after = ""
    while rows := connection.execute(page, {"after": after}).all():
        keys = [
            {"row_id": row_id, "key": address_key(ip, DEFAULT_IPV6_PREFIX)} for row_id, ip in rows
        ]
        connection.execute(fill, keys)
        after = rows[-1][0]


def downgrade() -> None:
    for name, index in _TABLES.items():
        op.drop_index(index, name)
        # SQLite: ALTER TABLE … DROP COLUMN, never batch's copy of the table, whose DROP TABLE
        # would cascade to every attempt and task (foreign keys are on).
        with op.batch_alter_table(name, recreate="never") as batch:
            batch.drop_column("client_key")
