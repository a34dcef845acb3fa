"""Drop the indexes on (client_ip, created_at) of leads and aliases: nothing reads by them.

The per-address cap counts by ``client_key`` (0009) and has its own indexes; each accepted
lead still wrote these two B-trees inside the write lock.

Revision ID: 0010_drop_ip_indexes
Revises: 0009_client_key
"""

from __future__ import annotations

from alembic import op

revision = "0010_drop_ip_indexes"
down_revision = "0009_client_key"
branch_labels = None
depends_on = None

_INDEXES = {"leads": "ix_leads_ip_created", "lead_aliases": "ix_lead_aliases_ip_created"}


def upgrade() -> None:
    for table, index in _INDEXES.items():
        op.drop_index(index, table)


def downgrade() -> None:
    for table, index in _INDEXES.items():
        op.create_index(index, table, ["client_ip", "created_at"])
