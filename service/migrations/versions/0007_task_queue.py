"""One task queue: timed work moves from the lead's due_at to tasks; shared service state.

Each lead's due work becomes a task: a queued lead a ``place_call``, a waiting one a
``recheck_agents``, a placed one with a due time a ``poll_call_status``. A lead left
``dispatching`` (the schema is upgraded with the workers stopped) is settled as the lease's
expiry would have settled it: back to the queue if nothing was sent, else placed, unconfirmed.
Then ``due_at``, ``lease_until`` and ``in_flight`` leave the lead.

Revision ID: 0007_task_queue
Revises: 0006_ga_session
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.leads.model import UTCDateTime

revision = "0007_task_queue"
down_revision = "0006_ga_session"
branch_labels = None
depends_on = None

_TASK_COLUMNS = (
    "kind",
    "lead_id",
    "state",
    "due_at",
    "attempts",
    "fence",
    "in_flight",
    "created_at",
    "updated_at",
)


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("lead_id", sa.String(32), sa.ForeignKey("leads.id", ondelete="CASCADE")),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", UTCDateTime()),
        sa.Column("fence", sa.Integer(), nullable=False),
        sa.Column("in_flight", sa.Boolean(), nullable=False),
        sa.Column("payload", sa.JSON()),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_tasks_state_due", "tasks", ["state", "due_at"])
    op.create_index("ix_tasks_lead", "tasks", ["lead_id"])
    op.create_table(
        "service_state",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )

    leads = sa.table(
        "leads",
        *(sa.column(name) for name in ("id", "status", "placed_at", "updated_at", "due_at")),
        sa.column("last_error"),
        sa.column("provider_ref"),
        sa.column("confirmed", sa.Boolean()),
        sa.column("in_flight", sa.Boolean()),
    )
    dispatching = leads.c.status == "dispatching"
    op.execute(
        leads.update()
        .where(dispatching, leads.c.in_flight.is_(True))
        .values(
            status="placed",
            confirmed=False,
            placed_at=leads.c.updated_at,
            due_at=None,
            last_error="outcome unknown: in flight at the upgrade",
        )
    )
    op.execute(leads.update().where(dispatching).values(status="queued"))
    tasks = sa.table("tasks", *(sa.column(name) for name in _TASK_COLUMNS))
    for kind, where in (
        ("place_call", leads.c.status == "queued"),
        ("recheck_agents", leads.c.status == "waiting_for_agent"),
        (
            "poll_call_status",
            sa.and_(
                leads.c.status == "placed",
                leads.c.due_at.is_not(None),
                leads.c.provider_ref.is_not(None),
            ),
        ),
    ):
        due = sa.select(
            sa.literal(kind),
            leads.c.id,
            sa.literal("pending"),
            sa.func.coalesce(leads.c.due_at, leads.c.updated_at),
            sa.literal(0),
            sa.literal(0),
            sa.false(),
            leads.c.updated_at,
            leads.c.updated_at,
        ).where(where)
        op.execute(tasks.insert().from_select(_TASK_COLUMNS, due))

    op.drop_index("ix_leads_status_due", "leads")
    # SQLite: ALTER TABLE … DROP COLUMN (3.35+), never batch's copy of the table, whose DROP
    # TABLE would cascade to every attempt and task (foreign keys are on).
    with op.batch_alter_table("leads", recreate="never") as batch:
        batch.drop_column("due_at")
        batch.drop_column("lease_until")
        batch.drop_column("in_flight")
    op.create_index("ix_leads_status", "leads", ["status"])


def downgrade() -> None:
    op.drop_index("ix_leads_status", "leads")
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("due_at", UTCDateTime()))
        batch.add_column(sa.Column("lease_until", UTCDateTime()))
        batch.add_column(sa.Column("in_flight", sa.Boolean(), server_default=sa.false()))
    op.execute(
        "UPDATE leads SET due_at = (SELECT min(t.due_at) FROM tasks t WHERE t.lead_id = "
        "leads.id AND t.state = 'pending')"
    )
    op.create_index("ix_leads_status_due", "leads", ["status", "due_at"])
    op.drop_table("service_state")
    op.drop_index("ix_tasks_lead", "tasks")
    op.drop_index("ix_tasks_state_due", "tasks")
    op.drop_table("tasks")
