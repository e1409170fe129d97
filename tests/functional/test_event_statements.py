"""The statements one posted event costs on SQLite.

On SQLite an event is decided from a read transaction and written under the
writer lock, where its case and customer are created or locked and checked.
PostgreSQL's event path sends its statements through the driver, so what it
costs is counted in network round trips (test_event_round_trips.py).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask

from tests.support.events import body


def test_a_new_case_and_customer_are_created_and_locked_in_one_statement_each(app: Flask) -> None:
    engine = app.extensions["escalation"].store.engine
    # Statements of the write transactions (BEGIN IMMEDIATE): the decision's
    # reads run before, in a read transaction, and lock nothing.
    seen: list[str] = []
    writing = [False]

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        text = " ".join(statement.split())[:60]
        if text.startswith("BEGIN"):
            writing[0] = text == "BEGIN IMMEDIATE"
        elif writing[0]:
            seen.append(text)

    client = app.test_client()
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        first = client.post("/v1/cases/C-count/events", json=body(customer={"id": "cus-count"}))
        again = client.post(
            "/v1/cases/C-count/events",
            json=body(event_id="evt-count-2", customer={"id": "cus-count"}),
        )
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)

    assert first.status_code == 201
    assert again.status_code == 201
    touching_cases = [
        s for s in seen if s.startswith(("INSERT INTO cases", "SELECT")) and " cases" in s
    ]
    touching_customers = [
        s for s in seen if s.startswith(("INSERT INTO customers", "SELECT")) and " customers" in s
    ]
    # One create-or-lock per event for each, whether the row is new or not: no
    # separate insert-if-new followed by SELECT ... FOR UPDATE.
    assert len([s for s in touching_cases if s.startswith("INSERT INTO cases")]) == 2, seen
    assert not [s for s in touching_cases if s.startswith("SELECT")], seen
    assert len([s for s in touching_customers if s.startswith("INSERT INTO customers")]) == 2, seen
    assert not [s for s in touching_customers if s.startswith("SELECT")], seen
