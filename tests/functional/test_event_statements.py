"""The statements one posted event costs on SQLite.

On SQLite an event is decided from one SELECT run outside any transaction,
and written under the writer lock, where the same SELECT checks that nothing
it was decided from changed and rows found absent are created.  The event path
runs its statements on the driver, so they are counted by the driver's trace
callback, which sees every statement SQLite runs.  PostgreSQL's event path is
counted in network round trips (test_event_round_trips.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.support.events import body


@pytest.fixture
def traced(app: Flask) -> Iterator[list[str]]:
    """Yield every statement SQLite runs for the app, as the first words of each, in order."""
    engine = app.extensions["escalation"].store.engine
    seen: list[str] = []

    def trace(connection: Any, _record: Any) -> None:
        connection.set_trace_callback(lambda text: seen.append(" ".join(text.split())[:60]))

    # Connections opened from now on are traced: drop the pooled ones.
    engine.dispose()
    sa.event.listen(engine, "connect", trace)
    yield seen
    sa.event.remove(engine, "connect", trace)
    engine.dispose()


def transactions(seen: list[str]) -> tuple[list[str], list[list[str]]]:
    """Split statements into those outside any transaction and the event's write transactions."""
    outside: list[str] = []
    writes: list[list[str]] = []
    current: list[str] | None = None
    for text in seen:
        if text.startswith("BEGIN"):
            current = [text]
        elif text.startswith(("COMMIT", "ROLLBACK")) and current is not None:
            if any(s.startswith("INSERT INTO events") for s in current):
                writes.append(current)
            current = None
        elif current is not None:
            current.append(text)
        else:
            outside.append(text)
    return outside, writes


def test_an_event_is_read_in_one_statement_and_written_without_creating_rows_twice(
    app: Flask, traced: list[str]
) -> None:
    client = app.test_client()
    first = client.post("/v1/cases/C-count/events", json=body(customer={"id": "cus-count"}))
    again = client.post(
        "/v1/cases/C-count/events", json=body(event_id="evt-count-2", customer={"id": "cus-count"})
    )
    assert first.status_code == 201
    assert again.status_code == 201

    outside, writes = transactions(traced)
    # The decision's read: one SELECT per event outside any transaction, no BEGIN of its own.
    reads = [s for s in outside if s.startswith("SELECT c.case_id")]
    assert len(reads) == 2, outside
    assert len(writes) == 2, traced
    for write in writes:
        assert write[0] == "BEGIN IMMEDIATE", write
        # Under the lock, the same SELECT checks what the event was decided from.
        assert write[1].startswith("SELECT c.case_id"), write
        assert len([s for s in write if s.startswith("SELECT")]) == 1, write
        # The case and customer are updated once each, never locked by a no-op upsert.
        assert len([s for s in write if s.startswith("UPDATE cases")]) == 1, write
        assert len([s for s in write if s.startswith("UPDATE customers")]) == 1, write
    created = [
        [s for s in write if s.startswith(("INSERT INTO cases", "INSERT INTO customers"))]
        for write in writes
    ]
    # The first event creates the case and the customer; the second finds them.
    assert [len(c) for c in created] == [2, 0], writes
