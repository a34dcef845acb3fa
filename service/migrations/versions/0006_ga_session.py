"""GA4's session id (the _ga_<stream> cookie), kept for the server-side generate_lead event.

Revision ID: 0006_ga_session
Revises: 0005_click_ids
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_ga_session"
down_revision = "0005_click_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("ga_session_id", sa.String(20)))


def downgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("ga_session_id")
