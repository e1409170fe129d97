"""Generation counters of cached tables: one row per table ("agents" to start with).

Workers cache agent profiles; every change of a profile bumps the "agents"
row in its transaction, and the event path reads the row in the round trip
that locks the case, so every worker of every server drops a stale cache
before deciding with it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "generations",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("generation", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(table, [{"name": "agents", "generation": 0}])


def downgrade() -> None:
    op.drop_table("generations")
