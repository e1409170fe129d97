"""Timer deadlines: pending, fired and cancelled rows, indexed by state and due time.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
# Chained to main's head; 0005 (webhooks) and 0006 (customer memory) come in between
# when they are merged: then this reads "0006".
down_revision = "0006"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deadlines",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("case_id", sa.String(200), sa.ForeignKey("cases.case_id"), nullable=False),
        sa.Column("timer_id", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("percent", sa.Integer, nullable=True),
        sa.Column("due_at", TIMESTAMP, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("started_by", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(20), nullable=True),
        sa.Column("rules_revision", sa.String(80), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("closed_by", sa.String(200), nullable=True),
    )
    op.create_index("ix_deadlines_state_due", "deadlines", ["state", "due_at"])
    op.create_index("ix_deadlines_case_timer", "deadlines", ["case_id", "timer_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_deadlines_case_timer", table_name="deadlines")
    op.drop_index("ix_deadlines_state_due", table_name="deadlines")
    op.drop_table("deadlines")
