"""Rule bundles in the database: every activated revision, the audit trail, the active pointer.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rule_bundles",
        sa.Column("revision", sa.String(80), primary_key=True),
        sa.Column("files", JSON, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=True),
    )
    op.create_table(
        "rule_activations",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column(
            "revision", sa.String(80), sa.ForeignKey("rule_bundles.revision"), nullable=False
        ),
        sa.Column("previous_revision", sa.String(80), nullable=True),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("activated_by", sa.String(200), nullable=False),
        sa.Column("activated_at", TIMESTAMP, nullable=False),
        sa.Column("forced", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("replay", JSON, nullable=True),
    )
    op.create_table(
        "rule_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column(
            "revision", sa.String(80), sa.ForeignKey("rule_bundles.revision"), nullable=False
        ),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("activated_at", TIMESTAMP, nullable=False),
        sa.Column("last_failure", JSON, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("rule_state")
    op.drop_table("rule_activations")
    op.drop_table("rule_bundles")
