"""An event's reads on SQLite in one statement each, on the sqlite3 driver.

The event path reads twice: once outside the writer lock, to decide, and once
under it, to check that what it decided from has not changed.  Both are the
same prebuilt SELECT, run on the driver's cursor with no SQLAlchemy statement
work: the case, the stored event of the same id (the idempotency check), the
customer (the case's, or the event's for a case without one), the agents'
generation and the agent's profile, in one row.  A single SELECT outside a
transaction is its own read transaction in WAL mode, so the row is one
committed state and never waits for the writer.

The check compares ``Read.version``, the raw columns the decision depends on,
so no JSON is parsed under the lock.  Rows the read found absent are created
there, before the event's writes (``creations``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from service.cases.model import AgentProfile, CustomerState
from service.store import codec
from service.store import repository as repo
from service.store.schema import cases, customers
from service.store.writes import Write, translated

_CUSTOMER_COLUMNS = (
    "customer_id",
    "tier",
    "flags",
    "flag_reasons",
    "unresolved_complaints",
    "complaint_refs",
    "escalations",
    "threats",
)
_AGENT_COLUMNS = ("agent_id", "max_complexity", "max_hostility", "max_minutes", "skills")

# The agent is the event's, else the case's current one (``event.agent_id or
# case.state.current_agent``), so the case and the agent are read in one row.
_AGENT_ID = "coalesce(nullif(:agent_id, ''), nullif(json_extract(c.state, '$.current_agent'), ''))"
READ = f"""
SELECT c.case_id, c.customer_id, c.state, c.event_count,
       e.seq, e.case_id, e.body_hash, e.decision,
       (SELECT generation FROM generations WHERE name = 'agents'), {_AGENT_ID},
       {", ".join("k." + name for name in _CUSTOMER_COLUMNS)},
       {", ".join("a." + name for name in _AGENT_COLUMNS)}
FROM (SELECT :case_id AS case_id) AS p
LEFT JOIN cases AS c ON c.case_id = p.case_id
LEFT JOIN events AS e ON e.event_id = :event_id
LEFT JOIN customers AS k ON k.customer_id = coalesce(c.customer_id, :customer_id)
LEFT JOIN agents AS a ON a.agent_id = {_AGENT_ID}
"""
_CUSTOMER = slice(10, 10 + len(_CUSTOMER_COLUMNS))
_AGENT = slice(_CUSTOMER.stop, _CUSTOMER.stop + len(_AGENT_COLUMNS))

# Created if new, else left as they are: ON CONFLICT DO NOTHING writes no page.
_CREATE_CASE = sqlite.insert(cases).on_conflict_do_nothing(index_elements=[cases.c.case_id])
_CREATE_CUSTOMER = sqlite.insert(customers).on_conflict_do_nothing(
    index_elements=[customers.c.customer_id]
)


def _json(text: str | None) -> Any:
    """Decode a JSON column as SQLAlchemy's JSON type does on SQLite (SQL NULL is None)."""
    return None if text is None else json.loads(text)


@dataclass(frozen=True)
class Read:
    """What one read of an event's rows found."""

    case: repo.LockedCase
    case_exists: bool
    stored: repo.StoredEvent | None
    customer_id: str | None
    customer: CustomerState
    customer_exists: bool
    agents_generation: int | None
    agent_id: str | None
    agent: AgentProfile
    # The raw columns the decision depends on (``_version``).
    version: tuple[Any, ...]

    def creations(self, now: datetime) -> list[Write]:
        """Return the writes creating the case and customer rows this read found absent."""
        writes: list[Write] = []
        if not self.case_exists:
            row: dict[str, Any] = {
                "case_id": self.case.state.case_id,
                "state": {},
                "event_count": 0,
                "created_at": now,
                "updated_at": now,
            }
            writes.append(Write(_CREATE_CASE, [row]))
        if self.customer_id is not None and not self.customer_exists:
            writes.append(Write(_CREATE_CUSTOMER, [repo.new_customer(self.customer_id, now)]))
        return writes


def _fetch(
    driver: sqlite3.Connection,
    case_id: str,
    event_id: str,
    customer_id: str | None,
    agent_id: str | None,
) -> tuple[Any, ...]:
    cursor = driver.execute(
        READ,
        {
            "case_id": case_id,
            "event_id": event_id,
            "customer_id": customer_id,
            "agent_id": agent_id,
        },
    )
    try:
        row: tuple[Any, ...] = cursor.fetchone()
    finally:
        cursor.close()
    return row


def _version(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Return the raw columns a decision depends on: equal versions, equal decisions.

    The case's event_count is its version; the customer has none, so its
    columns stand for it; a changed agent profile bumps the agents' generation.
    """
    return (row[0] is not None, row[1], row[3], row[8] if row[9] else None, row[_CUSTOMER])


def version(
    driver: sqlite3.Connection,
    case_id: str,
    event_id: str,
    customer_id: str | None,
    agent_id: str | None,
) -> tuple[Any, ...]:
    """Return the version of an event's rows now, decoding nothing (under the writer lock)."""
    return _version(_fetch(driver, case_id, event_id, customer_id, agent_id))


def read(
    driver: sqlite3.Connection,
    case_id: str,
    event_id: str,
    customer_id: str | None,
    agent_id: str | None,
    now: datetime,
) -> Read:
    """Read an event's case, stored event, customer, agents' generation and agent in one row."""
    row = _fetch(driver, case_id, event_id, customer_id, agent_id)
    case_exists = row[0] is not None
    if case_exists:
        case = repo.LockedCase(codec.case_from_json(case_id, _json(row[2])), row[1], row[3])
    else:
        case = repo.LockedCase(codec.case_from_json(case_id, {}), None, 0)
    stored = None
    if row[4] is not None:
        stored = repo.StoredEvent(row[4], row[5], row[6], dict(_json(row[7])))
    customer_row = row[_CUSTOMER]
    owner = case.customer_id or customer_id
    customer_exists = customer_row[0] is not None
    customer = CustomerState()
    if owner is not None:
        found: Any = (
            SimpleNamespace(
                customer_id=customer_row[0],
                tier=customer_row[1],
                flags=_json(customer_row[2]),
                flag_reasons=_json(customer_row[3]),
                unresolved_complaints=customer_row[4],
                complaint_refs=_json(customer_row[5]),
                escalations=_json(customer_row[6]),
                threats=_json(customer_row[7]),
            )
            if customer_exists
            else SimpleNamespace(**repo.new_customer(owner, now))
        )
        customer = codec.customer_from_row(found, repo.recent_escalations(found.escalations, now))
    chosen = agent_id or case.state.current_agent
    agent = AgentProfile(id=chosen)
    agent_row = row[_AGENT]
    if chosen and agent_row[0] is not None:
        agent = repo.agent_from_row(
            SimpleNamespace(
                agent_id=agent_row[0],
                max_complexity=agent_row[1],
                max_hostility=agent_row[2],
                max_minutes=agent_row[3],
                skills=_json(agent_row[4]),
            )
        )
    return Read(
        case=case,
        case_exists=case_exists,
        stored=stored,
        customer_id=owner,
        customer=customer,
        customer_exists=customer_exists,
        agents_generation=None if row[8] is None else int(row[8]),
        agent_id=chosen,
        agent=agent,
        version=_version(row),
    )


def driver_of(conn: sa.Connection) -> sqlite3.Connection:
    """Return the sqlite3 connection under a SQLAlchemy connection."""
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    return driver


@contextmanager
def reading(engine: sa.Engine) -> Iterator[sqlite3.Connection]:
    """Lend a pooled connection's driver for statements outside any transaction.

    The connection is in autocommit mode (``db._sqlite_setup``), so each
    SELECT is its own read transaction and nothing is left open.
    """
    with engine.connect() as conn, translated(conn):
        yield driver_of(conn)
