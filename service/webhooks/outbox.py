"""Queue decisions for webhook endpoints, in the transaction that stores the decision.

The enabled endpoints are cached per process for a couple of seconds, so a
decision costs no query when no endpoint would take it; a registration on
any worker or server reaches every process through the database within the
cache's lifetime.
"""

from __future__ import annotations

import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from service.store import codec
from service.store import webhooks as db
from service.store.repository import Store
from service.webhooks import rules

CACHE_SECONDS = 2.0


class _Cache:
    """The enabled endpoints of each database, as last read, and when that was."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: weakref.WeakKeyDictionary[
            sa.Engine, tuple[float, tuple[db.Subscription, ...]]
        ] = weakref.WeakKeyDictionary()

    def get(
        self, engine: sa.Engine, read: Callable[[], tuple[db.Subscription, ...]]
    ) -> tuple[db.Subscription, ...]:
        """Return the enabled endpoints of ``engine``, calling ``read`` when the list is old."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(engine)
        if entry is not None and now - entry[0] < CACHE_SECONDS:
            return entry[1]
        found = read()
        with self._lock:
            self._entries[engine] = (now, found)
        return found

    def forget(self, engine: sa.Engine) -> None:
        """Drop what is cached for ``engine``: this process changed its endpoints."""
        with self._lock:
            self._entries.pop(engine, None)


CACHE = _Cache()


def any_enabled(store: Store) -> bool:
    """Tell whether any endpoint is enabled, from the cache when it is fresh."""

    def read() -> tuple[db.Subscription, ...]:
        with store.read() as conn:
            return db.subscriptions(conn)

    return bool(CACHE.get(store.engine, read))


def forget(engine: sa.Engine) -> None:
    """Make this process read the endpoints again on the next decision."""
    CACHE.forget(engine)


def queue_decision(
    conn: sa.Connection,
    decision: codec.DecisionLike,
    *,
    customer_id: str | None = None,
    time_driven: bool,
    now: datetime,
) -> int:
    """Queue one delivery of ``decision`` per enabled endpoint that wants it; return how many.

    Call it inside the transaction that stores the decision, so both commit or
    neither does.  The receiver gets the decision as GET /v1/decisions shows it.
    """
    wanted = [
        s.seq
        for s in CACHE.get(conn.engine, lambda: db.subscriptions(conn))
        if rules.wants(s.events, decision.outcome, time_driven=time_driven)
    ]
    if not wanted:
        return 0
    # The cache may be a moment old: queue only for endpoints still enabled.
    live = db.enabled_among(conn, wanted)
    rows = delivery_rows(
        decision,
        [db.Subscription(seq, "all") for seq in wanted if seq in live],
        customer_id=customer_id,
        time_driven=time_driven,
        now=now,
    )
    db.insert_deliveries(conn, rows)
    return len(rows)


def delivery_rows(
    decision: codec.DecisionLike,
    enabled: Iterable[db.Subscription],
    *,
    customer_id: str | None,
    time_driven: bool,
    now: datetime,
) -> list[dict[str, Any]]:
    """Return the outbox rows of ``decision``: one per endpoint in ``enabled`` that wants it.

    ``enabled`` must be read in the transaction that stores the decision.
    """
    wanted = [
        s.seq for s in enabled if rules.wants(s.events, decision.outcome, time_driven=time_driven)
    ]
    if not wanted:
        return []
    kind = rules.TIME_DRIVEN if time_driven else rules.CREATED
    # The store's own form, rendered for the wire when sent (rules.wire_decision).
    payload = {
        "decision": codec.decision_to_json(decision),
        "customer_id": customer_id,
        "received_at": codec.stamp(now),
    }
    return [
        {
            "delivery_id": str(uuid.uuid4()),
            "endpoint_seq": seq,
            "decision_id": decision.decision_id,
            "type": kind,
            "payload": payload,
            "status": db.PENDING,
            "attempts": [],
            "round_attempts": 0,
            "next_attempt_at": now,
            "lease_until": None,
            "created_at": now,
            "updated_at": now,
        }
        for seq in wanted
    ]
