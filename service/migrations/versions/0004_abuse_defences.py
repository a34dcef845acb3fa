"""Abuse defences: consent, anonymisation, the blocklist, an index for numbers per IP.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.leads.model import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("consent_at", UTCDateTime()))
        batch.add_column(sa.Column("consent_version", sa.String(32)))
        batch.add_column(sa.Column("anonymised_at", UTCDateTime()))
    op.create_index("ix_leads_ip_created", "leads", ["client_ip", "created_at"])
    op.create_table(
        "blocked_numbers",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("masked", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime()),
        sa.Column("reason", sa.String(200)),
    )


def downgrade() -> None:
    op.drop_table("blocked_numbers")
    op.drop_index("ix_leads_ip_created", "leads")
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("anonymised_at")
        batch.drop_column("consent_version")
        batch.drop_column("consent_at")
