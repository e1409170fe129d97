"""Decision log outbox and the rule index behind GET /v1/decisions.

Existing decisions count as already logged, and their matched rules are
copied into the new index, so an upgraded database keeps and can search
everything it held.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("caller", sa.String(200), nullable=True))
        batch.add_column(sa.Column("logged", sa.Boolean, nullable=False, server_default=sa.true()))
    with op.batch_alter_table("events") as batch:
        batch.alter_column("logged", server_default=sa.false())
    op.create_index("ix_events_unlogged", "events", ["logged", "seq"])
    op.create_table(
        "decision_rules",
        sa.Column("seq", sa.Integer, sa.ForeignKey("events.seq"), primary_key=True),
        sa.Column("rule_id", sa.String(80), primary_key=True),
    )
    op.create_index("ix_decision_rules_rule_seq", "decision_rules", ["rule_id", "seq"])

    events = sa.table("events", sa.column("seq", sa.Integer), sa.column("decision", JSON))
    rules = sa.table(
        "decision_rules", sa.column("seq", sa.Integer), sa.column("rule_id", sa.String)
    )
    bind = op.get_bind()
    rows = []
    for seq, decision in bind.execute(sa.select(events.c.seq, events.c.decision)):
        for rule_id in {m["id"] for m in (decision or {}).get("matched_rules", [])}:
            rows.append({"seq": seq, "rule_id": rule_id})
    if rows:
        bind.execute(rules.insert(), rows)


def downgrade() -> None:
    op.drop_table("decision_rules")
    op.drop_index("ix_events_unlogged", "events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("logged")
        batch.drop_column("caller")
