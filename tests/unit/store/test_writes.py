"""Writes on the driver bind exactly the values SQLAlchemy's own parameter building gives."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from service.cases.model import CaseState, CustomerState
from service.store import repository as repo
from service.store.writes import Write, _positional, compiled

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
EVENT = {
    "event_id": "evt-1",
    "case_id": "C-1",
    "body_hash": "h",
    "type": "customer_message",
    "occurred_at": NOW,
    "received_at": NOW,
    "event": {"text": "ünïcode"},
    "decision_id": "d-1",
    "decision": {"outcome": "none"},
    "outcome": "none",
    "customer_id": None,
    "rules_revision": "r",
    "caller": None,
    "snapshot": None,
}


def writes() -> list[Write]:
    return [
        Write(repo.INSERT_EVENT, [EVENT]),
        repo.case_write(CaseState(case_id="C-1", messages=2), "cus-1", 2, NOW),
        repo.customer_write(CustomerState(id="cus-1", flags=("vip",)), NOW),
        repo.rules_write([{"seq": 1, "rule_id": "r-1"}]),
        # A statement with a literal value the row does not carry.
        Write(
            sqlite.insert(sa.table("g", sa.column("name"), sa.column("n"))).values(name="x"),
            [{"n": 1}],
        ),
    ]


@pytest.mark.parametrize("write", writes(), ids=lambda w: str(w.statement).split("(")[0])
def test_the_driver_binds_what_sqlalchemy_builds(write: Write) -> None:
    dialect = sqlite.dialect()
    row = write.rows[0]
    statement = compiled(write.statement, dialect, sorted(row))
    values = statement.params(row)
    order = statement.compiled.positiontup or ()
    assert order
    assert _positional(statement, row) == [values[name] for name in order]
