"""SQLite's one-statement read of an event's rows finds what the SQLAlchemy reads find."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.cases.model import AgentProfile, CaseState, ComplaintRef, CustomerState
from service.engine.model import AgentLimits
from service.store import repository as repo
from service.store import sqlevent
from service.store.db import create_engine, migrate
from service.store.writes import run

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'events.db'}")
    migrate(engine, tmp_path / "migrate.lock")
    yield engine
    engine.dispose()


def store_case(
    conn: sa.Connection, case_id: str, customer_id: str | None, agent: str | None, count: int
) -> None:
    repo.lock_case(conn, case_id, NOW)
    state = CaseState(case_id=case_id, messages=count, hostility=2, current_agent=agent)
    run(conn, [repo.case_write(state, customer_id, count, NOW)])


def store_customer(conn: sa.Connection, customer_id: str) -> None:
    repo.lock_customer(conn, customer_id, NOW)
    state = CustomerState(
        id=customer_id,
        tier="gold",
        flags=("vip",),
        flag_reasons={"vip": "contract"},
        unresolved_complaints=1,
        unresolved_complaint_refs=(ComplaintRef("C-1", NOW - timedelta(days=2)),),
        # One recent escalation and one older than the window: only the first counts.
        escalated_at=(NOW - timedelta(days=1), NOW - timedelta(days=90)),
    )
    run(conn, [repo.customer_write(state, NOW)])


def sqlalchemy_read(
    engine: sa.Engine, case_id: str, event_id: str, customer_id: str | None, agent_id: str | None
) -> tuple[object, ...]:
    """Read as the event path did before: one SQLAlchemy statement per row."""
    with engine.connect() as conn:
        stored = repo.find_event(conn, event_id)
        case = repo.read_case(conn, case_id)
        owner = case.customer_id or customer_id
        customer = CustomerState() if owner is None else repo.read_customer(conn, owner, NOW)
        chosen = agent_id or case.state.current_agent
        agent = AgentProfile(id=chosen)
        if chosen:
            agent = repo.load_agent(conn, chosen) or agent
        return stored, case, owner, customer, repo.agents_generation(conn), chosen, agent


def driver_read(
    engine: sa.Engine, case_id: str, event_id: str, customer_id: str | None, agent_id: str | None
) -> sqlevent.Read:
    with sqlevent.reading(engine) as driver:
        return sqlevent.read(driver, case_id, event_id, customer_id, agent_id, NOW)


@pytest.mark.parametrize(
    ("case_id", "event_id", "customer_id", "agent_id"),
    [
        ("C-new", "evt-new", None, None),  # nothing stored at all
        ("C-new", "evt-new", "cus-new", "ag-none"),  # a new customer, an agent without profile
        ("C-1", "evt-new", None, None),  # the case's own customer and current agent
        ("C-1", "evt-new", "cus-other", "ag-2"),  # the case's customer wins; the event's agent
        ("C-2", "evt-new", "cus-1", None),  # a case without customer takes the event's
        ("C-1", "evt-1", None, None),  # the event is stored already
    ],
)
def test_the_one_statement_read_finds_what_the_sqlalchemy_reads_find(
    engine: sa.Engine, case_id: str, event_id: str, customer_id: str | None, agent_id: str | None
) -> None:
    with engine.begin() as conn:
        store_case(conn, "C-1", "cus-1", "ag-1", 3)
        store_case(conn, "C-2", None, None, 1)
        store_customer(conn, "cus-1")
        repo.put_agent(conn, AgentProfile("ag-1", AgentLimits(0.5, 0.6, 30.0), ("billing",)), NOW)
        repo.put_agent(conn, AgentProfile("ag-2", None, ("refunds", "legal")), NOW)
        row = {
            "event_id": "evt-1",
            "case_id": "C-1",
            "body_hash": "h",
            "type": "customer_message",
            "occurred_at": NOW,
            "received_at": NOW,
            "event": {},
            "decision_id": "d-1",
            "decision": {"outcome": "none"},
            "outcome": "none",
            "rules_revision": "r",
        }
        repo.insert_event(conn, row, [])

    read = driver_read(engine, case_id, event_id, customer_id, agent_id)
    stored, case, owner, customer, generation, chosen, agent = sqlalchemy_read(
        engine, case_id, event_id, customer_id, agent_id
    )

    assert read.stored == stored
    assert read.case == case
    assert read.customer_id == owner
    assert read.customer == customer
    assert read.agents_generation == generation == 2
    assert read.agent_id == chosen
    assert read.agent == agent


def test_the_version_changes_with_the_case_the_customer_and_the_agents_only(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        store_case(conn, "C-1", "cus-1", "ag-1", 3)
        store_customer(conn, "cus-1")

    def version() -> tuple[object, ...]:
        with sqlevent.reading(engine) as driver:
            return sqlevent.version(driver, "C-1", "evt-x", None, None)

    first = version()
    assert driver_read(engine, "C-1", "evt-x", None, None).version == first
    with engine.begin() as conn:  # another case of another customer: no change
        store_case(conn, "C-9", "cus-9", None, 1)
        store_customer(conn, "cus-9")
    assert version() == first
    with engine.begin() as conn:  # an event on the case
        store_case(conn, "C-1", "cus-1", "ag-1", 4)
    second = version()
    assert second != first
    with engine.begin() as conn:  # the customer, from another of its cases
        run(conn, [repo.customer_write(CustomerState(id="cus-1", tier="gold"), NOW)])
    third = version()
    assert third != second
    with engine.begin() as conn:  # any agent's profile: the generation moves
        repo.put_agent(conn, AgentProfile("ag-7"), NOW)
    assert version() != third


def test_rows_found_absent_are_created_before_the_writes_and_existing_ones_left_alone(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        store_case(conn, "C-1", "cus-1", None, 3)
        store_customer(conn, "cus-1")
    fresh = driver_read(engine, "C-new", "evt-x", "cus-new", None)
    known = driver_read(engine, "C-1", "evt-x", None, None)
    assert known.creations(NOW) == []
    with engine.begin() as conn:
        run(conn, fresh.creations(NOW))
        # Run twice: the second finds the rows and changes nothing.
        run(conn, fresh.creations(NOW))
    again = driver_read(engine, "C-new", "evt-x", "cus-new", None)
    assert again.case_exists
    assert again.customer_exists
    assert again.case == fresh.case
    assert again.customer == fresh.customer
