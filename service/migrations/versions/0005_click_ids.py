"""Ad click ids read from the lead's page_url: gclid, fbclid, yclid.

Revision ID: 0005_click_ids
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_click_ids"
down_revision = "0004"
branch_labels = None
depends_on = None

# Written out, not read from service.attribution: a migration records the schema of its day.
_COLUMNS = ("gclid", "fbclid", "yclid")


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        for name in _COLUMNS:
            batch.add_column(sa.Column(name, sa.String(256)))


def downgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)
