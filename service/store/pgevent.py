"""An event's transaction on PostgreSQL in three network round trips.

1. ``read``: BEGIN and one statement, sent together as one simple query.  The
   statement creates or locks the case, then creates or locks its customer
   (the case first, always, so two transactions never wait on each other in
   a cycle), and returns both rows with the stored event of the same id (the
   idempotency check), the agents' generation, the agent's profile unless the
   process has it cached at that generation (``AgentCache``), and the enabled
   webhook endpoints.  Its values are ids and a time, quoted by the driver; no
   message text is ever sent this way (the server log may quote a statement).
2. ``write``: the decision is made in Python; then every write it causes (the
   event and its matched rules, the case and customer, deadline rows, webhook
   deliveries) is one statement of data-modifying CTEs with bound parameters.
3. COMMIT.

Statements are compiled once (``service.store.writes``) and sent through the
driver; driver errors are raised as SQLAlchemy's (IntegrityError,
OperationalError), as on the other paths.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import sql
from psycopg.rows import namedtuple_row

from service.cases.model import AgentProfile, CustomerState
from service.store import codec
from service.store import repository as repo
from service.store import webhooks as hooks
from service.store.writes import Write, compiled


class OutcomeUnknown(Exception):
    """The connection was lost after the COMMIT was sent: it may or may not have committed."""


_READ = sql.SQL("""BEGIN;
WITH c AS (
    INSERT INTO cases (case_id, state, event_count, created_at, updated_at)
    VALUES ({case_id}, '{{}}'::jsonb, 0, {now}, {now})
    ON CONFLICT (case_id) DO UPDATE SET case_id = excluded.case_id
    RETURNING customer_id, state, event_count
), k AS (
    INSERT INTO customers (customer_id, tier, flags, flag_reasons, unresolved_complaints,
                           complaint_refs, escalations, threats, updated_at)
    SELECT coalesce(c.customer_id, {customer_id}::varchar), 'standard', '[]'::jsonb,
           '{{}}'::jsonb, 0, '[]'::jsonb, '[]'::jsonb, '[]'::jsonb, {now}
    FROM c
    WHERE coalesce(c.customer_id, {customer_id}::varchar) IS NOT NULL
    ON CONFLICT (customer_id) DO UPDATE SET customer_id = excluded.customer_id
    RETURNING customer_id, tier, flags, flag_reasons, unresolved_complaints, complaint_refs,
              escalations, threats
), g AS (
    SELECT (SELECT generation FROM generations WHERE name = 'agents') AS generation
)
SELECT c.customer_id AS case_customer_id, c.state AS case_state, c.event_count,
       k.customer_id, k.tier, k.flags, k.flag_reasons, k.unresolved_complaints,
       k.complaint_refs, k.escalations, k.threats,
       e.seq AS stored_seq, e.case_id AS stored_case_id, e.body_hash AS stored_body_hash,
       e.decision AS stored_decision,
       g.generation AS agents_generation,
       ({cached}::bigint IS DISTINCT FROM g.generation) AS agent_read,
       a.agent_id, a.max_complexity, a.max_hostility, a.max_minutes, a.skills,
       (SELECT coalesce(json_agg(json_build_array(w.seq, w.events)), '[]'::json)
        FROM webhook_endpoints w WHERE w.enabled) AS subscriptions
FROM c
CROSS JOIN g
LEFT JOIN k ON true
LEFT JOIN events e ON e.event_id = {event_id}
LEFT JOIN agents a
    ON a.agent_id = coalesce({agent_id}::varchar, nullif(c.state ->> 'current_agent', ''))
    AND {cached}::bigint IS DISTINCT FROM g.generation
""")

IDLE = psycopg.pq.TransactionStatus.IDLE

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@dataclass(frozen=True)
class Read:
    """What the first round trip returns: the locked rows and what the decision needs."""

    case: repo.LockedCase
    customer: CustomerState | None
    stored: repo.StoredEvent | None
    agents_generation: int | None
    # Whether the agent was looked up (the cached generation was not current), and what was found.
    agent_read: bool
    agent: AgentProfile | None
    subscriptions: tuple[hooks.Subscription, ...]


class _Statements:
    """The write statement of each shape (which writes, how many rows), built once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._built: dict[tuple[Any, ...], str] = {}

    def get(self, shape: tuple[Any, ...], build: Any) -> str:
        found = self._built.get(shape)
        if found is None:
            found = build()
            with self._lock:
                self._built[shape] = found
        return found


_STATEMENTS = _Statements()


def _renamed(text: str, prefix: str) -> str:
    return _PLACEHOLDER.sub(lambda m: f"%({prefix}{m.group(1)})s", text)


class EventTransaction:
    """One event's transaction on a psycopg connection in autocommit mode (explicit BEGIN)."""

    def __init__(self, conn: sa.Connection, driver: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self._driver = driver
        self.committing = False

    def read(
        self,
        case_id: str,
        event_id: str,
        customer_id: str | None,
        agent_id: str | None,
        cached_generation: int | None,
        now: datetime,
    ) -> Read:
        """Begin; create or lock the case and its customer; read what deciding needs."""
        query = _READ.format(
            case_id=sql.Literal(case_id),
            customer_id=sql.Literal(customer_id),
            event_id=sql.Literal(event_id),
            agent_id=sql.Literal(agent_id),
            cached=sql.Literal(cached_generation),
            now=sql.Literal(now),
        )
        with self._driver.cursor(row_factory=namedtuple_row) as cursor:
            cursor.execute(query)
            cursor.nextset()  # past BEGIN's result
            row: Any = cursor.fetchone()
        assert row is not None  # the case row is created or locked: always one row
        case = repo.LockedCase(
            codec.case_from_json(case_id, row.case_state), row.case_customer_id, row.event_count
        )
        customer = None
        if row.customer_id is not None:
            customer = codec.customer_from_row(row, repo.recent_escalations(row.escalations, now))
        stored = None
        if row.stored_seq is not None:
            stored = repo.StoredEvent(
                row.stored_seq, row.stored_case_id, row.stored_body_hash, dict(row.stored_decision)
            )
        return Read(
            case,
            customer,
            stored,
            row.agents_generation,
            bool(row.agent_read),
            None if row.agent_id is None else repo.agent_from_row(row),
            tuple(hooks.Subscription(seq, kind) for seq, kind in row.subscriptions),
        )

    def write(
        self, event_row: Mapping[str, Any], rule_ids: Sequence[str], writes: Sequence[Write]
    ) -> int:
        """Store the event, its rules and ``writes`` in one statement; return the event's seq."""
        dialect = self._conn.dialect
        insert = compiled(repo.INSERT_EVENT, dialect, sorted(event_row))
        params = {f"e_{k}": v for k, v in insert.params(event_row).items()}
        params["rule_ids"] = list(rule_ids)
        parts: list[tuple[Any, str]] = []
        for n, write in enumerate(writes):
            for i, row in enumerate(write.rows):
                statement = compiled(write.statement, dialect, sorted(row))
                prefix = f"w{n}_{i}_"
                parts.append((statement, prefix))
                params.update({prefix + k: v for k, v in statement.params(row).items()})

        def build() -> str:
            ctes = [
                f"e AS ({_renamed(insert.sql, 'e_')})",
                "r AS (INSERT INTO decision_rules (seq, rule_id) SELECT e.seq, m.rule_id "
                "FROM e CROSS JOIN unnest(%(rule_ids)s::varchar[]) AS m(rule_id))",
            ]
            ctes += [
                f"{prefix.rstrip('_')} AS ({_renamed(statement.sql, prefix)})"
                for statement, prefix in parts
            ]
            return "WITH " + ",\n".join(ctes) + "\nSELECT seq FROM e"

        shape = (insert.sql, tuple((id(s), p) for s, p in parts))
        text = _STATEMENTS.get(shape, build)
        with self._driver.cursor() as cursor:
            cursor.execute(text, params)
            found = cursor.fetchone()
        assert found is not None
        return int(found[0])

    def commit(self) -> None:
        """Commit the transaction."""
        self.committing = True
        self._driver.execute("COMMIT")

    def rollback(self) -> None:
        """End the transaction without writing (an answer already stored, a refused event)."""
        self._driver.execute("ROLLBACK")


def _translated(conn: sa.Connection, exc: psycopg.Error) -> sa.exc.DBAPIError:
    """Return SQLAlchemy's error for a driver error; drop a lost connection from the pool."""
    error: Any = exc  # the dialect's signature names the DB-API error class, not psycopg's
    lost = conn.dialect.is_disconnect(error, conn.connection.dbapi_connection, None)
    if lost:
        conn.invalidate(exc)
    translated = sa.exc.DBAPIError.instance(
        None, None, exc, psycopg.Error, connection_invalidated=lost, hide_parameters=True
    )
    assert isinstance(translated, sa.exc.DBAPIError)  # a psycopg.Error always is one
    return translated


@contextmanager
def event_transaction(engine: sa.Engine) -> Iterator[EventTransaction]:
    """Open a connection for one event's transaction; roll back unless it committed.

    Raise OutcomeUnknown when the connection is lost after the COMMIT was sent.
    """
    with engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        transaction = EventTransaction(conn, driver)
        # Autocommit: the driver sends no BEGIN of its own (a round trip); ours
        # travels with the first statement.
        driver.autocommit = True
        try:
            try:
                yield transaction
            except BaseException:
                if not (driver.closed or driver.broken or transaction.committing):
                    # The error being raised says more than one in rolling back.
                    with contextlib.suppress(psycopg.Error):
                        if driver.info.transaction_status != IDLE:
                            driver.execute("ROLLBACK")
                raise
        except psycopg.Error as exc:
            error = _translated(conn, exc)
            if error.connection_invalidated and transaction.committing:
                raise OutcomeUnknown("the connection was lost during COMMIT") from error
            raise error from exc
        finally:
            if conn.invalidated:
                pass  # dropped from the pool already
            elif driver.closed or driver.info.transaction_status != IDLE:
                # Left mid-transaction (its ROLLBACK failed): never hand it out again.
                conn.invalidate()
            else:
                driver.autocommit = False
