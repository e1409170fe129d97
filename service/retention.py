"""Message text retention: purge the text of stored events past the retention period.

A purged event keeps everything its decision and replay need: the body
without ``text``, the state it was decided from, the decision itself, and the
signals detected in the text when it arrived (name, language, lexicon entry
and file: never the words), which replay reuses instead of detecting again.
See docs/retention.md.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from service.store.repository import Store
from service.store.schema import events

log = logging.getLogger(__name__)

# Rows purged per transaction: short transactions, so the feed and writers never wait long.
BATCH = 500
# Seconds a background pass keeps purging full batches before it waits for its next
# turn: enough to keep up with a busy service, short enough never to hog a worker.
PASS_SECONDS = 30.0

_PURGE = (
    events.update()
    .where(events.c.seq == sa.bindparam("key"))
    .values(
        event=sa.bindparam("body"),
        purged_at=sa.bindparam("now"),
        kept_signals=sa.bindparam("kept"),
    )
)


def kept_signals(decision: Mapping[str, Any]) -> list[dict[str, str]]:
    """Return what a stored decision's signals say without quoting the message."""
    return [
        {
            "name": s["name"],
            "language": s["language"],
            "entry": s.get("entry", ""),
            "source": s.get("source", ""),
        }
        for s in decision.get("signals", ())
    ]


def _batch(conn: sa.Connection, cutoff: datetime, limit: int) -> Sequence[Any]:
    select = (
        sa.select(events.c.seq, events.c.event, events.c.decision)
        .where(events.c.purged_at.is_(None), events.c.received_at < cutoff)
        # The order of ix_events_unpurged: a pass reads only rows it will purge.
        .order_by(events.c.received_at)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        # Workers purging together take different rows; SQLite has one writer anyway.
        select = select.with_for_update(skip_locked=True)
    return list(conn.execute(select))


def purge_batch(store: Store, now: datetime, retention: timedelta, limit: int = BATCH) -> int:
    """Purge the text of up to ``limit`` events received before ``now - retention``.

    Return how many events were purged (every one is marked, text or not).
    """
    with store.write() as conn:
        rows = _batch(conn, now - retention, limit)
        if rows:
            conn.execute(
                _PURGE,
                [
                    {
                        "key": row.seq,
                        "body": {k: v for k, v in row.event.items() if k != "text"},
                        "now": now,
                        "kept": kept_signals(row.decision),
                    }
                    for row in rows
                ],
            )
    return len(rows)


def purge(
    store: Store,
    now: datetime,
    retention: timedelta,
    *,
    batch: int = BATCH,
    budget: float | None = None,
) -> int:
    """Purge in batches until nothing is left (or ``budget`` seconds passed); return the count."""
    total = 0
    started = time.monotonic()
    while True:
        purged = purge_batch(store, now, retention, batch)
        total += purged
        if purged < batch or (budget is not None and time.monotonic() - started >= budget):
            return total


class Purger:
    """Purge expired message text every interval, on a daemon thread of its own."""

    def __init__(
        self, store: Store, retention: timedelta, clock: Callable[[], datetime]
    ) -> None:
        self.store, self.retention, self.clock = store, retention, clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Purge one bounded pass now; return how many events were purged."""
        return purge(self.store, self.clock(), self.retention, budget=PASS_SECONDS)

    def start(self, interval: float) -> None:
        """Start purging every ``interval`` seconds."""
        # The thread holds the purger weakly, so a dropped app does not keep it alive.
        ref = weakref.ref(self)
        stop = self._stop

        def loop() -> None:
            while not stop.wait(interval):
                purger = ref()
                if purger is None:
                    return
                try:
                    purged = purger.run_once()
                except Exception:  # a database hiccup must not end the thread
                    log.exception("message text purge failed; retrying next round")
                    continue
                if purged:
                    log.info("purged the message text of %d event(s)", purged)
                del purger

        self._thread = threading.Thread(target=loop, name="text-purger", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread."""
        self._stop.set()
