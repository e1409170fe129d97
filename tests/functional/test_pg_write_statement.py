"""The PostgreSQL event path's write statement: built once per shape of writes, same rows stored.

An event's writes (the case, the customer, timer and delivery rows) become
one statement of data-modifying CTEs.  Its text depends only on which
statements write which columns (the shape), so it is built once per shape and
reused; its values are a flat list in placeholder order.  What it stores must
be what the same writes store through SQLAlchemy, one statement at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from psycopg.types.json import Jsonb
from sqlalchemy.dialects import postgresql

from service.cases.model import CaseState, CustomerState
from service.store import db, pgevent
from service.store import repository as repo
from service.store.schema import cases, customers, decision_rules, events
from service.store.writes import Write, compiled, run

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
DIALECT = postgresql.psycopg.dialect()


def event_row(event_id: str, case_id: str, customer_id: str | None) -> dict[str, Any]:
    """Return an event's row as the event path builds it."""
    return {
        "event_id": event_id,
        "case_id": case_id,
        "body_hash": "f" * 64,
        "type": "customer_message",
        "occurred_at": NOW,
        "received_at": NOW,
        "event": {"text": "100% late, again", "n": 1},
        "decision_id": f"d-{event_id}",
        "decision": {"outcome": "escalate", "reasons": ["late"]},
        "outcome": "escalate",
        "customer_id": customer_id,
        "rules_revision": "rev-1",
        "caller": None,
        "snapshot": None,  # a JSON column given None stores JSON null on both paths
    }


def writes(case_id: str, customer_id: str | None, messages: int) -> list[Write]:
    """Return an event's writes: its case, and its customer when it has one."""
    found = [repo.case_write(CaseState(case_id=case_id, messages=messages), customer_id, 1, NOW)]
    if customer_id is not None:
        customer = CustomerState(
            id=customer_id, tier="vip", flags=("legal",), flag_reasons={"legal": "said lawyer"}
        )
        found.append(repo.customer_write(customer, NOW))
    return found


def test_one_statement_per_shape_reused_for_other_values() -> None:
    statements = pgevent.Statements(DIALECT)
    columns = tuple(event_row("e", "C", "cus"))
    with_customer, _ = pgevent.shape_of(writes("C-1", "cus-1", 1))
    again, _ = pgevent.shape_of(writes("C-2", "cus-2", 7))
    without_customer, _ = pgevent.shape_of(writes("C-3", None, 1))

    first = statements.get(columns, with_customer)
    assert statements.get(columns, again) is first  # other values, same shape: reused
    other = statements.get(columns, without_customer)
    assert other is not first
    assert len(statements) == 2
    assert "UPDATE customers" in first.text
    assert "UPDATE customers" not in other.text
    # Placeholders numbered once across the whole statement, values bound, never inlined.
    assert "%(" not in first.text
    assert "C-1" not in first.text


def plain(values: list[Any]) -> list[Any]:
    """Return ``values`` with psycopg's JSON wrappers unwrapped, to compare them."""
    return [("jsonb", v.obj) if isinstance(v, Jsonb) else v for v in values]


def test_flat_values_are_what_each_compiled_statement_binds() -> None:
    row = event_row("e-1", "C-1", "cus-1")
    these = writes("C-1", "cus-1", 3)
    shape, rows = pgevent.shape_of(these)
    statement = pgevent.Statements(DIALECT).get(tuple(row), shape)

    # The uncached path: each statement's own parameters, by name, in its placeholders' order.
    expected: list[Any] = []
    for built, values in [(compiled(repo.INSERT_EVENT, DIALECT, sorted(row)), row)] + [
        (compiled(w.statement, DIALECT, sorted(r)), r) for w in these for r in w.rows
    ]:
        params = built.params(values)
        expected += [params[n] for n in pgevent._PLACEHOLDER.findall(built.sql)]
        if built.sql.startswith("INSERT INTO events"):
            expected.append(["r-1", "r-2"])
    got = statement.values(row, ["r-1", "r-2"], rows)
    assert plain(got) == plain(expected)
    assert statement.text.count("$") == len(got)


@pytest.fixture
def engine(postgres_schema: str, tmp_path: Path) -> Iterator[sa.Engine]:
    """Return an engine on a migrated, empty schema."""
    engine = db.create_engine(postgres_schema)
    db.migrate(engine, tmp_path / "migrate.lock")
    yield engine
    engine.dispose()


def stored(engine: sa.Engine, case_id: str) -> dict[str, Any]:
    """Return what is stored for a case: its event (ids aside), rules, case and customer rows."""
    with engine.connect() as conn:
        event = conn.execute(sa.select(events).where(events.c.case_id == case_id)).one()._asdict()
        rules = conn.execute(
            sa.select(decision_rules.c.rule_id)
            .where(decision_rules.c.seq == event["seq"])
            .order_by(decision_rules.c.rule_id)
        ).scalars()
        case = conn.execute(sa.select(cases).where(cases.c.case_id == case_id)).one()._asdict()
        customer = (
            conn.execute(
                sa.select(customers).where(customers.c.customer_id == event["customer_id"])
            )
            .one()
            ._asdict()
        )
    for key in ("seq", "event_id", "case_id", "decision_id", "customer_id", "txid"):
        event.pop(key, None)
    for row in (case, customer):
        row.pop("case_id", None)
        row.pop("customer_id", None)
        row.pop("created_at", None)
    return {"event": event, "rules": list(rules), "case": case, "customer": customer}


@pytest.mark.postgres
def test_the_cached_statement_stores_what_the_uncached_path_stores(engine: sa.Engine) -> None:
    rule_ids = ["late-reply", "vip-customer"]
    with pgevent.event_transaction(engine) as transaction:
        read = transaction.read("C-fast", "e-fast", "cus-fast", None, None, NOW)
        assert read.case.event_count == 0
        row = event_row("e-fast", "C-fast", "cus-fast")
        seq = transaction.write_and_commit(row, rule_ids, writes("C-fast", "cus-fast", 4))
    with engine.begin() as conn:
        # The uncached path: create and lock as the SQLAlchemy path does, then write.
        repo.lock_case(conn, "C-slow", NOW)
        repo.lock_customer(conn, "cus-slow", NOW)
        slow = repo.insert_event(conn, event_row("e-slow", "C-slow", "cus-slow"), rule_ids)
        run(conn, writes("C-slow", "cus-slow", 4))
    assert seq != slow
    fast = stored(engine, "C-fast")
    assert fast["rules"] == rule_ids
    assert fast["case"]["event_count"] == 1
    assert fast["customer"]["tier"] == "vip"
    assert fast["event"]["snapshot"] is None
    assert fast == stored(engine, "C-slow")


def post_once(engine: sa.Engine, case_id: str, event_id: str, customer_id: str) -> int:
    """Read, write and commit one event on the event path; return its seq."""
    with pgevent.event_transaction(engine) as transaction:
        transaction.read(case_id, event_id, customer_id, None, None, NOW)
        row = event_row(event_id, case_id, customer_id)
        return transaction.write_and_commit(row, [], writes(case_id, customer_id, 1))


@pytest.mark.postgres
def test_a_refused_write_rolls_back_and_keeps_the_connection(engine: sa.Engine) -> None:
    post_once(engine, "C-1", "e-1", "cus-1")
    with engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    # The same event id for another case: the insert is refused with its COMMIT.
    with pytest.raises(sa.exc.IntegrityError):
        post_once(engine, "C-2", "e-1", "cus-2")
    with engine.connect() as conn:
        # Nothing of the refused transaction stayed (not even the case it created), and
        # the pool's connection was rolled back and kept, not dropped.
        assert conn.execute(
            sa.select(cases.c.case_id).order_by(cases.c.case_id)
        ).scalars().all() == ["C-1"]
        assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() == pid
