"""The database schema, one definition for SQLite and PostgreSQL (SQLAlchemy Core).

Migrations in ``migrations/versions`` create and evolve it; this module is
what the code reads and writes with.  Keep the two in step: a test compares
the migrated database with these tables.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)

metadata = sa.MetaData()


class current_txid(FunctionElement[int]):  # noqa: N801 - reads like the SQL function it is
    """The writing transaction's id on PostgreSQL; 0 elsewhere (one writer at a time)."""

    type = sa.BigInteger()
    inherit_cache = True


@compiles(current_txid, "postgresql")
def _current_txid_postgresql(element: current_txid, compiler: Any, **kw: Any) -> str:
    # xid8 has no cast to bigint; its text form is the 64-bit (epoch-extended) number.
    return "(pg_current_xact_id()::text::bigint)"


@compiles(current_txid)
def _current_txid_other(element: current_txid, compiler: Any, **kw: Any) -> str:
    return "0"


cases = sa.Table(
    "cases",
    metadata,
    sa.Column("case_id", sa.String(200), primary_key=True),
    sa.Column("customer_id", sa.String(200), nullable=True, index=True),
    sa.Column("state", JSON, nullable=False),
    sa.Column("event_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", TIMESTAMP, nullable=False),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
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
    sa.Column("caller", sa.String(200), nullable=True),
    # Set once the decision's line is in the decision log (an outbox flag).
    sa.Column("logged", sa.Boolean, nullable=False, server_default=sa.false()),
    # The case, customer and agent state the decision was made from (replay reads it);
    # NULL for events stored before it was recorded.
    sa.Column("snapshot", JSON, nullable=True),
    # The decision feed's order is (txid, seq): the id of the transaction that wrote the
    # row, set by the database (docs/decision-feed.md); 0 on SQLite and on rows older than it.
    sa.Column("txid", sa.BigInteger, nullable=False, server_default=current_txid()),
    # Message text purge (docs/retention.md): when the text was removed, and the signals
    # detected in it, kept so that replay re-decides the event without the text.
    sa.Column("purged_at", TIMESTAMP, nullable=True),
    sa.Column("kept_signals", JSON, nullable=True),
    sa.Index("ix_events_case_seq", "case_id", "seq"),
    sa.Index("ix_events_customer_seq", "customer_id", "seq"),
    sa.Index("ix_events_outcome_seq", "outcome", "seq"),
    sa.Index("ix_events_received", "received_at"),
    sa.Index("ix_events_unlogged", "logged", "seq"),
    sa.Index("ix_events_feed", "txid", "seq"),
    # The purge's query: text not yet purged, by arrival.
    sa.Index("ix_events_unpurged", "purged_at", "received_at"),
)

decision_rules = sa.Table(
    "decision_rules",
    metadata,
    sa.Column("seq", sa.Integer, sa.ForeignKey("events.seq"), primary_key=True),
    sa.Column("rule_id", sa.String(80), primary_key=True),
    sa.Index("ix_decision_rules_rule_seq", "rule_id", "seq"),
)

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("customer_id", sa.String(200), primary_key=True),
    sa.Column("tier", sa.String(40), nullable=False, server_default="standard"),
    sa.Column("flags", JSON, nullable=False),
    sa.Column("flag_reasons", JSON, nullable=False),
    sa.Column("unresolved_complaints", sa.Integer, nullable=False, server_default="0"),
    sa.Column("complaint_refs", JSON, nullable=False),
    sa.Column("escalations", JSON, nullable=False),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
    # Threats across the customer's cases (customer memory, the last 90 days); NULL on
    # rows written before revision 0006 reads as none.
    sa.Column("threats", JSON, nullable=True),
)

agents = sa.Table(
    "agents",
    metadata,
    sa.Column("agent_id", sa.String(200), primary_key=True),
    sa.Column("max_complexity", sa.Float, nullable=True),
    sa.Column("max_hostility", sa.Float, nullable=True),
    sa.Column("max_minutes", sa.Float, nullable=True),
    sa.Column("skills", JSON, nullable=False),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
)

# Rule bundles: every revision ever activated, by content hash.
rule_bundles = sa.Table(
    "rule_bundles",
    metadata,
    sa.Column("revision", sa.String(80), primary_key=True),
    # {relative path: file text}
    sa.Column("files", JSON, nullable=False),
    sa.Column("created_at", TIMESTAMP, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=True),
)

# The audit trail: one row per activation, rollback or seeding.
rule_activations = sa.Table(
    "rule_activations",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("revision", sa.String(80), sa.ForeignKey("rule_bundles.revision"), nullable=False),
    sa.Column("previous_revision", sa.String(80), nullable=True),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("activated_by", sa.String(200), nullable=False),
    sa.Column("activated_at", TIMESTAMP, nullable=False),
    sa.Column("forced", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("replay", JSON, nullable=True),
)

# One row (id 1): the revision every worker of every server serves, and the
# last failed attempt to change it.  Workers poll it; it is tiny on purpose.
rule_state = sa.Table(
    "rule_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("revision", sa.String(80), sa.ForeignKey("rule_bundles.revision"), nullable=False),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("activated_at", TIMESTAMP, nullable=False),
    sa.Column("last_failure", JSON, nullable=True),
)

# Webhook endpoints: where decisions are pushed.  ``seq`` names one
# registration internally, so deliveries of a deleted endpoint never show up
# under a new endpoint of the same id.
webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("seq", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("id", sa.String(200), nullable=False, unique=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("secret", sa.String(200), nullable=False),
    sa.Column("events", sa.String(20), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("disabled_reason", sa.String(200), nullable=True),
    sa.Column("disabled_at", TIMESTAMP, nullable=True),
    sa.Column("created_at", TIMESTAMP, nullable=False),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
    # Never reuse a number: deliveries of a deleted endpoint stay apart.
    sqlite_autoincrement=True,
)

# The webhook outbox: one row per decision and endpoint, written in the
# decision's transaction and worked off by every worker's sender.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("seq", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("delivery_id", sa.String(36), nullable=False, unique=True),
    sa.Column("endpoint_seq", sa.Integer, nullable=False),
    sa.Column("decision_id", sa.String(36), nullable=False),
    sa.Column("type", sa.String(30), nullable=False),
    sa.Column("payload", JSON, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    # Every attempt: {at, status_code, error, duration_ms}.
    sa.Column("attempts", JSON, nullable=False),
    # Attempts since the delivery was (re)queued: the position in the backoff schedule.
    sa.Column("round_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", TIMESTAMP, nullable=True),
    # Set while a sender holds the delivery; past it, another sender may take it again.
    sa.Column("lease_until", TIMESTAMP, nullable=True),
    sa.Column("created_at", TIMESTAMP, nullable=False),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
    sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_endpoint_seq", "endpoint_seq", "seq"),
)

# Timer deadlines (service/timers): one row per warning and per breach a started
# timer will fire, written in the transaction of the event that starts or stops it.
deadlines = sa.Table(
    "deadlines",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("case_id", sa.String(200), sa.ForeignKey("cases.case_id"), nullable=False),
    sa.Column("timer_id", sa.String(80), nullable=False),
    # warning or breach
    sa.Column("kind", sa.String(10), nullable=False),
    # For a warning: the percentage of the way to the target.
    sa.Column("percent", sa.Integer, nullable=True),
    sa.Column("due_at", TIMESTAMP, nullable=False),
    # pending, fired or cancelled
    sa.Column("state", sa.String(10), nullable=False),
    # The event that started the timer, and the channel it came on.
    sa.Column("started_by", sa.String(200), nullable=False),
    sa.Column("channel", sa.String(20), nullable=True),
    sa.Column("rules_revision", sa.String(80), nullable=False),
    sa.Column("created_at", TIMESTAMP, nullable=False),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
    # The deadline_reached event it fired as, or the event that cancelled it.
    sa.Column("closed_by", sa.String(200), nullable=True),
    # The claimer's query: pending rows by due time.
    sa.Index("ix_deadlines_state_due", "state", "due_at"),
    # Starting and stopping a timer: the case's pending rows.
    sa.Index("ix_deadlines_case_timer", "case_id", "timer_id", "state"),
)

# API keys (service/keys.py): only the SHA-256 of each token is stored.  A
# revoked row stays as a tombstone, so its hash is never imported again.
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    # Comma-separated, sorted: events:write,decisions:read,...
    sa.Column("scopes", sa.String(200), nullable=False),
    # "sha256:" + 64 hex digits.
    sa.Column("token_hash", sa.String(80), nullable=False, unique=True),
    sa.Column("created_at", TIMESTAMP, nullable=False),
    sa.Column("revoked_at", TIMESTAMP, nullable=True),
)

# Counters that tell every worker of every server when a table it caches changed
# (one row per cached table; "agents": bumped by every PUT /v1/agents/{id}).  The
# event path reads them in the round trip that locks the case.
generations = sa.Table(
    "generations",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("generation", sa.BigInteger, nullable=False),
)
