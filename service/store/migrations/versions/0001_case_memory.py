"""Case memory: cases, events with their decisions, customers, agents.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(200), primary_key=True),
        sa.Column("customer_id", sa.String(200), nullable=True),
        sa.Column("state", JSON, nullable=False),
        sa.Column("event_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_cases_customer_id", "cases", ["customer_id"])
    op.create_table(
        "events",
        sa.Column("seq", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("event_id", sa.String(200), nullable=False, unique=True),
        sa.Column("case_id", sa.String(200), sa.ForeignKey("cases.case_id"), nullable=False),
        sa.Column("body_hash", sa.String(64), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("occurred_at", TIMESTAMP, nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("event", JSON, nullable=False),
        sa.Column("decision_id", sa.String(36), nullable=False, unique=True),
        sa.Column("decision", JSON, nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("customer_id", sa.String(200), nullable=True),
        sa.Column("rules_revision", sa.String(80), nullable=False),
    )
    op.create_index("ix_events_case_seq", "events", ["case_id", "seq"])
    op.create_index("ix_events_customer_seq", "events", ["customer_id", "seq"])
    op.create_index("ix_events_outcome_seq", "events", ["outcome", "seq"])
    op.create_index("ix_events_received", "events", ["received_at"])
    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(200), primary_key=True),
        sa.Column("tier", sa.String(40), nullable=False, server_default="standard"),
        sa.Column("flags", JSON, nullable=False),
        sa.Column("flag_reasons", JSON, nullable=False),
        sa.Column("unresolved_complaints", sa.Integer, nullable=False, server_default="0"),
        sa.Column("complaint_refs", JSON, nullable=False),
        sa.Column("escalations", JSON, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "agents",
        sa.Column("agent_id", sa.String(200), primary_key=True),
        sa.Column("max_complexity", sa.Float, nullable=True),
        sa.Column("max_hostility", sa.Float, nullable=True),
        sa.Column("max_minutes", sa.Float, nullable=True),
        sa.Column("skills", JSON, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("agents")
    op.drop_table("customers")
    op.drop_table("events")
    op.drop_table("cases")
