"""The decision feed's order, and message text purge: events.txid, purged_at, kept_signals.

``txid`` is the id of the transaction that wrote the row (PostgreSQL), so the
feed returns rows only once every older transaction has ended.  Rows already
stored get 0: they sort before every later row, in seq order, so a cursor
handed out before this revision still finds what follows it.  On SQLite the
column stays 0 (one writer at a time: seq order is commit order).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
# Another branch adds 0008; the integrator chains this one after it.
down_revision = "0008"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)
CURRENT_TXID = "(pg_current_xact_id()::text::bigint)"


def upgrade() -> None:
    # A constant default fills existing rows without rewriting the table (PostgreSQL 11+);
    # the writing transaction's id becomes the default only afterwards.
    # Plain ADD COLUMN on both databases: SQLite's batch mode would copy the table,
    # which the foreign key from decision_rules forbids.
    op.add_column(
        "events", sa.Column("txid", sa.BigInteger, nullable=False, server_default=sa.text("0"))
    )
    op.add_column("events", sa.Column("purged_at", TIMESTAMP, nullable=True))
    op.add_column("events", sa.Column("kept_signals", JSON, nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("events", "txid", server_default=sa.text(CURRENT_TXID))
    op.create_index("ix_events_feed", "events", ["txid", "seq"])
    op.create_index("ix_events_unpurged", "events", ["purged_at", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_events_unpurged", table_name="events")
    op.drop_index("ix_events_feed", table_name="events")
    for column in ("kept_signals", "purged_at", "txid"):
        op.drop_column("events", column)
