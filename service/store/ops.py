"""Reads for operations staff: escalation counts over time and by rule, the latest decisions,
deadlines due soon and webhook deliveries failing.

Everything is computed by the database, so every worker of every server
answers the same.  Every function takes an open connection and is bounded by
its caller's limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from service.store import codec
from service.store.repository import DecisionRow, decision_row, filter_decisions
from service.store.schema import (
    deadlines,
    decision_rules,
    events,
    webhook_deliveries,
    webhook_endpoints,
)

ESCALATE, ROUTE = "escalate", "route"


def _epoch(conn: sa.Connection, column: Any) -> Any:
    """Return seconds since 1970 of a timestamp column, in the connection's SQL dialect."""
    if conn.dialect.name == "sqlite":
        # SQLite stores UTC timestamps as text; strftime('%s') reads them as UTC.
        return sa.cast(sa.func.strftime("%s", column), sa.Integer)
    return sa.cast(sa.func.floor(sa.extract("epoch", column)), sa.BigInteger)


def bucket_counts(
    conn: sa.Connection,
    since: datetime,
    until: datetime,
    bucket_seconds: int,
    outcome: str | None = None,
) -> dict[int, int]:
    """Count decisions (of one outcome) received in [since, until), by bucket of
    ``bucket_seconds``: 0 is the bucket starting at ``since``; empty buckets are left out."""
    start = int(since.timestamp())
    # Whole-number division: every row lies at or after ``since``, so it is a floor.
    bucket = ((_epoch(conn, events.c.received_at) - start) // bucket_seconds).label("bucket")
    select = (
        sa.select(bucket, sa.func.count().label("n"))
        .where(events.c.received_at >= since, events.c.received_at < until)
        .group_by(bucket)
    )
    # Without an outcome the received_at index answers alone; escalations are few, so
    # reading their rows is cheap.
    if outcome is not None:
        select = select.where(events.c.outcome == outcome)
    return {int(r.bucket): int(r.n) for r in conn.execute(select)}


@dataclass(frozen=True)
class RuleCount:
    """How many decisions a rule matched in a window, and how many of them escalated."""

    rule: str
    matched: int
    escalated: int


def _per_rule(conn: sa.Connection, received: sa.Select[Any]) -> dict[str, int]:
    rows = conn.execute(
        sa.select(decision_rules.c.rule_id, sa.func.count().label("n"))
        .where(decision_rules.c.seq.in_(received))
        .group_by(decision_rules.c.rule_id)
    )
    return {r.rule_id: int(r.n) for r in rows}


def counts_by_rule(
    conn: sa.Connection, since: datetime, until: datetime, limit: int
) -> list[RuleCount]:
    """Return the rules that matched decisions received in [since, until), most escalating first."""
    received = sa.select(events.c.seq).where(
        events.c.received_at >= since, events.c.received_at < until
    )
    # Two index-only passes over the rule index instead of a join that reads every event row.
    # Escalated first: a decision committed in between adds to matched as well.
    escalated = _per_rule(conn, received.where(events.c.outcome == ESCALATE))
    matched = _per_rule(conn, received)
    found = [RuleCount(rule, n, escalated.get(rule, 0)) for rule, n in matched.items()]
    found.sort(key=lambda r: (-r.escalated, -r.matched, r.rule))
    return found[:limit]


def latest_decisions(
    conn: sa.Connection,
    *,
    case_id: str | None = None,
    customer_id: str | None = None,
    outcome: str | None = None,
    before: int | None = None,
    limit: int = 20,
) -> list[tuple[int, DecisionRow]]:
    """Return stored decisions, newest first, that pass every filter."""
    select = sa.select(
        events.c.seq, events.c.decision, events.c.received_at, events.c.customer_id
    ).order_by(events.c.seq.desc())
    select = filter_decisions(select, case_id=case_id, customer_id=customer_id, outcome=outcome)
    if before is not None:
        select = select.where(events.c.seq < before)
    return [(r.seq, decision_row(r)) for r in conn.execute(select.limit(limit))]


@dataclass(frozen=True)
class DueDeadline:
    """A pending timer deadline: which case and timer, warning or breach, and when."""

    id: int
    case_id: str
    timer_id: str
    kind: str
    percent: int | None
    due_at: datetime
    started_by: str
    channel: str | None
    rules_revision: str


def due_deadlines(conn: sa.Connection, due_before: datetime, limit: int) -> list[DueDeadline]:
    """Return pending deadlines due before ``due_before`` (overdue ones too), soonest first."""
    rows = conn.execute(
        sa.select(deadlines)
        .where(deadlines.c.state == "pending", deadlines.c.due_at < due_before)
        .order_by(deadlines.c.due_at, deadlines.c.id)
        .limit(limit)
    )
    return [
        DueDeadline(
            id=r.id,
            case_id=r.case_id,
            timer_id=r.timer_id,
            kind=r.kind,
            percent=r.percent,
            due_at=codec.aware(r.due_at),
            started_by=r.started_by,
            channel=r.channel,
            rules_revision=r.rules_revision,
        )
        for r in rows
    ]


# Which deliveries each ``status`` filter of failing_deliveries lists.
FAILING_STATUSES = ("failing", "failed", "retrying")


@dataclass(frozen=True)
class FailingDelivery:
    """A webhook delivery that failed or is being retried, without its payload."""

    seq: int
    delivery_id: str
    webhook_id: str | None  # None once the endpoint was deleted
    decision_id: str
    type: str
    status: str
    attempts: tuple[dict[str, Any], ...]
    next_attempt_at: datetime | None
    created_at: datetime


def failing_deliveries(
    conn: sa.Connection, status: str, before: int | None, limit: int
) -> list[FailingDelivery]:
    """Return deliveries of every endpoint that failed (``failed``), are retried after a
    failed attempt (``retrying``) or either (``failing``), newest first."""
    d = webhook_deliveries
    failed = d.c.status == "failed"
    retrying = sa.and_(d.c.status == "pending", d.c.round_attempts > 0)
    wanted = {"failed": failed, "retrying": retrying, "failing": sa.or_(failed, retrying)}[status]
    select = (
        sa.select(
            d.c.seq,
            d.c.delivery_id,
            webhook_endpoints.c.id.label("webhook_id"),
            d.c.decision_id,
            d.c.type,
            d.c.status,
            d.c.attempts,
            d.c.next_attempt_at,
            d.c.created_at,
        )
        .outerjoin(webhook_endpoints, webhook_endpoints.c.seq == d.c.endpoint_seq)
        .where(wanted)
        .order_by(d.c.seq.desc())
        .limit(limit)
    )
    if before is not None:
        select = select.where(d.c.seq < before)
    return [
        FailingDelivery(
            seq=r.seq,
            delivery_id=r.delivery_id,
            webhook_id=r.webhook_id,
            decision_id=r.decision_id,
            type=r.type,
            status="retrying" if r.status == "pending" else r.status,
            attempts=tuple(r.attempts or ()),
            next_attempt_at=None if r.next_attempt_at is None else codec.aware(r.next_attempt_at),
            created_at=codec.aware(r.created_at),
        )
        for r in conn.execute(select)
    ]
