"""The time a visitor chose for the call (``call_at``), kept on the lead.

A lead held by the daily budget books no slot; when an operator releases it, it is booked for
the time its visitor chose (or the next slot with room), not called at once. Existing held
leads have none: they are called when released, as before.

Revision ID: 0011_lead_call_at
Revises: 0010_drop_ip_indexes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.leads.model import UTCDateTime

revision = "0011_lead_call_at"
down_revision = "0010_drop_ip_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leads", recreate="never") as batch:
        batch.add_column(sa.Column("call_at", UTCDateTime()))


def downgrade() -> None:
    # Never a copy of the table: on SQLite, dropping the old one would cascade to every task,
    # attempt and alias (foreign keys are on). SQLite drops a plain column in place.
    with op.batch_alter_table("leads", recreate="never") as batch:
        batch.drop_column("call_at")
