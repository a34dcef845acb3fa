"""Routing: where each callback went, and how often a lead waited for an agent.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("leads", sa.Column("destination", sa.String(64)))
    op.add_column(
        "leads",
        sa.Column("agent_checks", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("agent_checks")
        batch.drop_column("destination")
