"""Reads and writes of webhook endpoints and of the webhook delivery outbox.

Every function takes an open connection, so callers decide the transaction:
deliveries are queued in the transaction that stores their decision, and a
sender claims them in one transaction and records each attempt in another.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from service.store.codec import aware
from service.store.schema import webhook_deliveries as deliveries
from service.store.schema import webhook_endpoints as endpoints
from service.store.writes import Write, run

PENDING, DELIVERED, FAILED, CANCELLED = "pending", "delivered", "failed", "cancelled"


@dataclass(frozen=True)
class Endpoint:
    """One registered webhook endpoint."""

    seq: int
    id: str
    url: str
    secret: str
    events: str
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Subscription:
    """What queuing needs of an enabled endpoint: its key and its event filter."""

    seq: int
    events: str


@dataclass(frozen=True)
class Delivery:
    """One decision on its way to one endpoint."""

    seq: int
    delivery_id: str
    endpoint_seq: int
    decision_id: str
    type: str
    payload: dict[str, Any]
    status: str
    attempts: tuple[dict[str, Any], ...]
    round_attempts: int
    next_attempt_at: datetime | None
    lease_until: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class Claimed:
    """A delivery a sender holds, with where to send it and the key to sign it with."""

    delivery: Delivery
    url: str
    secret: str


def _maybe(moment: datetime | None) -> datetime | None:
    return aware(moment) if moment is not None else None


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        seq=row.seq,
        id=row.id,
        url=row.url,
        secret=row.secret,
        events=row.events,
        enabled=bool(row.enabled),
        disabled_reason=row.disabled_reason,
        disabled_at=_maybe(row.disabled_at),
        created_at=aware(row.created_at),
        updated_at=aware(row.updated_at),
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        seq=row.seq,
        delivery_id=row.delivery_id,
        endpoint_seq=row.endpoint_seq,
        decision_id=row.decision_id,
        type=row.type,
        payload=dict(row.payload),
        status=row.status,
        attempts=tuple(row.attempts or ()),
        round_attempts=row.round_attempts,
        next_attempt_at=_maybe(row.next_attempt_at),
        lease_until=_maybe(row.lease_until),
        created_at=aware(row.created_at),
    )


def get_endpoint(conn: sa.Connection, endpoint_id: str) -> Endpoint | None:
    """Return the endpoint registered under ``endpoint_id``, or None."""
    row = conn.execute(sa.select(endpoints).where(endpoints.c.id == endpoint_id)).first()
    return _endpoint(row) if row is not None else None


def list_endpoints(conn: sa.Connection) -> list[Endpoint]:
    """Return every registered endpoint, by id."""
    return [_endpoint(r) for r in conn.execute(sa.select(endpoints).order_by(endpoints.c.id))]


def subscriptions(conn: sa.Connection) -> tuple[Subscription, ...]:
    """Return the enabled endpoints' keys and event filters."""
    rows = conn.execute(
        sa.select(endpoints.c.seq, endpoints.c.events).where(endpoints.c.enabled.is_(True))
    )
    return tuple(Subscription(r.seq, r.events) for r in rows)


def put_endpoint(
    conn: sa.Connection, endpoint_id: str, url: str, secret: str | None, events: str, now: datetime
) -> tuple[Endpoint, bool]:
    """Create or replace an endpoint, enabled; keep its secret when ``secret`` is None.

    Return the endpoint and whether it was created.  Creating needs a secret.
    """
    existing = get_endpoint(conn, endpoint_id)
    if existing is None:
        if secret is None:
            raise ValueError("a new endpoint needs a secret")
        conn.execute(
            endpoints.insert().values(
                id=endpoint_id,
                url=url,
                secret=secret,
                events=events,
                enabled=True,
                created_at=now,
                updated_at=now,
            )
        )
    else:
        values: dict[str, Any] = {
            "url": url,
            "events": events,
            "enabled": True,
            "disabled_reason": None,
            "disabled_at": None,
            "updated_at": now,
        }
        if secret is not None:
            values["secret"] = secret
        conn.execute(endpoints.update().where(endpoints.c.seq == existing.seq).values(**values))
    found = get_endpoint(conn, endpoint_id)
    assert found is not None
    return found, existing is None


def _cancel_pending(conn: sa.Connection, endpoint_seq: int, now: datetime) -> None:
    conn.execute(
        deliveries.update()
        .where(deliveries.c.endpoint_seq == endpoint_seq, deliveries.c.status == PENDING)
        .values(status=CANCELLED, next_attempt_at=None, lease_until=None, updated_at=now)
    )


def delete_endpoint(conn: sa.Connection, endpoint_id: str, now: datetime) -> bool:
    """Remove an endpoint and cancel its pending deliveries; return whether it existed."""
    existing = get_endpoint(conn, endpoint_id)
    if existing is None:
        return False
    _cancel_pending(conn, existing.seq, now)
    conn.execute(endpoints.delete().where(endpoints.c.seq == existing.seq))
    return True


def disable_endpoint(conn: sa.Connection, endpoint_seq: int, reason: str, now: datetime) -> None:
    """Disable an endpoint with the reason, and cancel its pending deliveries."""
    conn.execute(
        endpoints.update()
        .where(endpoints.c.seq == endpoint_seq)
        .values(enabled=False, disabled_reason=reason, disabled_at=now, updated_at=now)
    )
    _cancel_pending(conn, endpoint_seq, now)


def enabled_among(conn: sa.Connection, seqs: Iterable[int]) -> set[int]:
    """Return which of these endpoints still exist and are enabled."""
    wanted = list(seqs)
    if not wanted:
        return set()
    rows = conn.execute(
        sa.select(endpoints.c.seq).where(endpoints.c.seq.in_(wanted), endpoints.c.enabled.is_(True))
    )
    return {r.seq for r in rows}


_INSERT_DELIVERIES = deliveries.insert()


def deliveries_write(rows: Sequence[Mapping[str, Any]]) -> Write:
    """Return the write that queues deliveries (full rows of the outbox table)."""
    return Write(_INSERT_DELIVERIES, rows)


def insert_deliveries(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Queue deliveries (full rows of the outbox table)."""
    run(conn, [deliveries_write(rows)])


def list_deliveries(
    conn: sa.Connection,
    endpoint_seq: int,
    *,
    status: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[Delivery]:
    """Return an endpoint's deliveries, newest first, optionally of one status."""
    select = (
        sa.select(deliveries)
        .where(deliveries.c.endpoint_seq == endpoint_seq)
        .order_by(deliveries.c.seq.desc())
        .limit(limit)
    )
    if status is not None:
        select = select.where(deliveries.c.status == status)
    if before is not None:
        select = select.where(deliveries.c.seq < before)
    return [_delivery(r) for r in conn.execute(select)]


def get_delivery(conn: sa.Connection, endpoint_seq: int, delivery_id: str) -> Delivery | None:
    """Return one delivery of an endpoint, or None."""
    row = conn.execute(
        sa.select(deliveries).where(
            deliveries.c.endpoint_seq == endpoint_seq, deliveries.c.delivery_id == delivery_id
        )
    ).first()
    return _delivery(row) if row is not None else None


def requeue(conn: sa.Connection, seq: int, now: datetime) -> None:
    """Queue a delivery once more, due now, at the start of the backoff schedule."""
    conn.execute(
        deliveries.update()
        .where(deliveries.c.seq == seq)
        .values(
            status=PENDING, round_attempts=0, next_attempt_at=now, lease_until=None, updated_at=now
        )
    )


def _due(now: datetime) -> tuple[sa.ColumnElement[bool], ...]:
    return (
        deliveries.c.status == PENDING,
        deliveries.c.next_attempt_at <= now,
        sa.or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until <= now),
    )


def any_due(conn: sa.Connection, now: datetime) -> bool:
    """Tell whether any delivery is due and not leased (a cheap read before claiming)."""
    return conn.execute(sa.select(deliveries.c.seq).where(*_due(now)).limit(1)).first() is not None


def claim(conn: sa.Connection, now: datetime, lease_until: datetime, limit: int) -> list[Claimed]:
    """Take due deliveries until ``lease_until``, skipping rows another sender has locked.

    Deliveries whose endpoint is gone or disabled are cancelled instead.
    """
    due = conn.execute(
        sa.select(deliveries)
        .where(*_due(now))
        .order_by(deliveries.c.next_attempt_at)
        .limit(limit)
        # PostgreSQL: several servers share the work; SQLite ignores it (one writer anyway).
        .with_for_update(skip_locked=True)
    ).all()
    if not due:
        return []
    taken = [_delivery(r) for r in due]
    targets = {
        r.seq: r
        for r in conn.execute(
            sa.select(endpoints.c.seq, endpoints.c.url, endpoints.c.secret).where(
                endpoints.c.seq.in_({d.endpoint_seq for d in taken}),
                endpoints.c.enabled.is_(True),
            )
        )
    }
    claimed = [
        Claimed(d, targets[d.endpoint_seq].url, targets[d.endpoint_seq].secret)
        for d in taken
        if d.endpoint_seq in targets
    ]
    orphans = [d.seq for d in taken if d.endpoint_seq not in targets]
    if orphans:
        conn.execute(
            deliveries.update()
            .where(deliveries.c.seq.in_(orphans))
            .values(status=CANCELLED, next_attempt_at=None, lease_until=None, updated_at=now)
        )
    if claimed:
        conn.execute(
            deliveries.update()
            .where(deliveries.c.seq.in_([c.delivery.seq for c in claimed]))
            .values(lease_until=lease_until, updated_at=now)
        )
    return claimed


def record_attempt(
    conn: sa.Connection,
    seq: int,
    attempt: Mapping[str, Any],
    *,
    status: str,
    next_attempt_at: datetime | None,
    now: datetime,
) -> None:
    """Append one attempt to a delivery, set its status and when it is due next.

    A delivery cancelled meanwhile keeps its status; the attempt is still listed.
    """
    row = conn.execute(
        sa.select(deliveries.c.attempts, deliveries.c.round_attempts, deliveries.c.status).where(
            deliveries.c.seq == seq
        )
    ).first()
    if row is None:
        return
    values: dict[str, Any] = {
        "attempts": [*(row.attempts or []), dict(attempt)],
        "updated_at": now,
    }
    # Cancelled while in flight (endpoint deleted or disabled): keep it cancelled.
    if row.status == PENDING:
        values.update(
            round_attempts=row.round_attempts + 1,
            status=status,
            next_attempt_at=next_attempt_at,
            lease_until=None,
        )
    conn.execute(deliveries.update().where(deliveries.c.seq == seq).values(**values))
