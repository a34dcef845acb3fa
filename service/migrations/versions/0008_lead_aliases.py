"""Lead aliases: a repeat of an open lead's number from another client gets an id of its own.

Revision ID: 0008_lead_aliases
Revises: 0007_task_queue
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.leads.model import UTCDateTime

revision = "0008_lead_aliases"
down_revision = "0007_task_queue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lead_aliases",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "lead_id",
            sa.String(32),
            sa.ForeignKey("leads.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("client_ip", sa.String(45)),
        sa.Column("idempotency_key", sa.String(128), unique=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_lead_aliases_lead_ip", "lead_aliases", ["lead_id", "client_ip"])
    op.create_index("ix_lead_aliases_ip_created", "lead_aliases", ["client_ip", "created_at"])


def downgrade() -> None:
    op.drop_table("lead_aliases")
