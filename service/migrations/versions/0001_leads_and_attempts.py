"""Leads and their attempts.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.leads.model import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("comment", sa.Text()),
        sa.Column("page_url", sa.String(2048)),
        sa.Column("utm_source", sa.String(256)),
        sa.Column("utm_medium", sa.String(256)),
        sa.Column("utm_campaign", sa.String(256)),
        sa.Column("utm_term", sa.String(256)),
        sa.Column("utm_content", sa.String(256)),
        sa.Column("client_id", sa.String(64)),
        sa.Column("client_ip", sa.String(45)),
        sa.Column("user_agent", sa.String(512)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("due_at", UTCDateTime()),
        sa.Column("lease_until", UTCDateTime()),
        sa.Column("in_flight", sa.Boolean(), nullable=False),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("provider", sa.String(32)),
        sa.Column("provider_ref", sa.String(128)),
        sa.Column("placed_at", UTCDateTime()),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("idempotency_key", sa.String(128), unique=True),
    )
    op.create_index("ix_leads_status_due", "leads", ["status", "due_at"])
    op.create_index("ix_leads_phone_created", "leads", ["phone", "created_at"])
    op.create_index("ix_leads_created", "leads", ["created_at"])
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "lead_id",
            sa.String(32),
            sa.ForeignKey("leads.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer()),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("http_status", sa.Integer()),
        sa.Column("error", sa.Text()),
        sa.Column("detail", sa.Text()),
    )
    op.create_index("ix_attempts_lead_id", "attempts", ["lead_id"])


def downgrade() -> None:
    op.drop_table("attempts")
    op.drop_table("leads")
