"""An event's transaction on PostgreSQL in two network round trips.

1. ``read``: BEGIN and one statement, pipelined.  The statement creates or
   locks the case, then creates or locks its customer (the case first,
   always, so two transactions never wait on each other in a cycle), and
   returns both rows with the stored event of the same id (the idempotency
   check), the agents' generation, the agent's profile unless the process has
   it cached at that generation (``AgentCache``), and the enabled webhook
   endpoints.
2. ``write_and_commit``: the decision is made in Python; then every write it
   causes (the event and its matched rules, the case and customer, deadline
   rows, webhook deliveries) is one statement of data-modifying CTEs,
   pipelined with the COMMIT.

Both statements are built once (the write statement once per shape of
writes: ``Statements``), use ``$n`` placeholders with values passed as a flat
list (no conversion per call) and are prepared on the server, so neither is
parsed or planned per event.  Values are always bound, never quoted into the
text (the server log may quote a statement; message text must not reach it).
Driver errors are raised as SQLAlchemy's (IntegrityError, OperationalError),
as on the other paths.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import RawCursor
from psycopg.rows import namedtuple_row
from sqlalchemy.sql.dml import UpdateBase

from service.cases.model import AgentProfile, CustomerState
from service.store import codec
from service.store import repository as repo
from service.store import webhooks as hooks
from service.store.writes import Compiled, Write, compiled


class OutcomeUnknown(Exception):
    """The connection was lost after the COMMIT was sent: it may or may not have committed."""


# Parameters: $1 case id, $2 now, $3 customer id, $4 event id, $5 agent id,
# $6 the agents' generation the process has cached.
_READ = """WITH c AS (
    INSERT INTO cases (case_id, state, event_count, created_at, updated_at)
    VALUES ($1::varchar, '{}'::jsonb, 0, $2::timestamptz, $2::timestamptz)
    ON CONFLICT (case_id) DO UPDATE SET case_id = excluded.case_id
    RETURNING customer_id, state, event_count
), k AS (
    INSERT INTO customers (customer_id, tier, flags, flag_reasons, unresolved_complaints,
                           complaint_refs, escalations, threats, updated_at)
    SELECT coalesce(c.customer_id, $3::varchar), 'standard', '[]'::jsonb,
           '{}'::jsonb, 0, '[]'::jsonb, '[]'::jsonb, '[]'::jsonb, $2::timestamptz
    FROM c
    WHERE coalesce(c.customer_id, $3::varchar) IS NOT NULL
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
       ($6::bigint IS DISTINCT FROM g.generation) AS agent_read,
       a.agent_id, a.max_complexity, a.max_hostility, a.max_minutes, a.skills,
       (SELECT coalesce(json_agg(json_build_array(w.seq, w.events)), '[]'::json)
        FROM webhook_endpoints w WHERE w.enabled) AS subscriptions
FROM c
CROSS JOIN g
LEFT JOIN k ON true
LEFT JOIN events e ON e.event_id = $4::varchar
LEFT JOIN agents a
    ON a.agent_id = coalesce($5::varchar, nullif(c.state ->> 'current_agent', ''))
    AND $6::bigint IS DISTINCT FROM g.generation
"""

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


@dataclass(frozen=True)
class Binder:
    """One compiled statement's text and how a row becomes its values, in placeholder order.

    ``names[i]`` is the row's key for the i-th placeholder, or None where the
    statement fixes the value itself (``constants[i]``, already processed).
    """

    text: str
    names: tuple[str | None, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    constants: tuple[Any, ...]

    def values(self, row: Mapping[str, Any]) -> list[Any]:
        """Return the driver's values for ``row``, as ``Compiled.params`` would give them."""
        out = []
        for name, process, constant in zip(
            self.names, self.processors, self.constants, strict=True
        ):
            if name is None:
                out.append(constant)
            elif process is None:
                out.append(row[name])
            else:
                # Applied to None too: a JSON column stores None as JSON null.
                out.append(process(row[name]))
        return out


def binder(statement: Compiled, columns: Sequence[str]) -> Binder:
    """Return the binder of a statement compiled for ``columns`` (its text keeps %(name)s)."""
    names = tuple(_PLACEHOLDER.findall(statement.sql))
    # What the statement binds of its own (a literal, a default): the same for every row.
    fixed = statement.params({c: None for c in columns})
    given = set(columns)
    return Binder(
        statement.sql,
        tuple(n if n in given else None for n in names),
        tuple(statement.processors.get(n) if n in given else None for n in names),
        tuple(None if n in given else fixed[n] for n in names),
    )


def _numbered(text: str, first: int) -> tuple[str, int]:
    """Number the %(name)s placeholders of ``text`` from $first; return it and the next number."""
    numbers = itertools.count(first)
    numbered = _PLACEHOLDER.sub(lambda _: f"${next(numbers)}", text)
    # SQLAlchemy doubles a literal % for the pyformat style; a $n statement has no escapes.
    return numbered.replace("%%", "%"), next(numbers)


@dataclass(frozen=True)
class WriteStatement:
    """The one statement that stores an event and its writes, for one shape of writes."""

    text: str
    event: Binder
    parts: tuple[Binder, ...]

    def values(
        self,
        event_row: Mapping[str, Any],
        rule_ids: Sequence[str],
        rows: Sequence[Mapping[str, Any]],
    ) -> list[Any]:
        """Return the statement's values, flat, in placeholder order; ``rows`` match ``parts``."""
        values = self.event.values(event_row)
        values.append(list(rule_ids))
        for part, row in zip(self.parts, rows, strict=True):
            values += part.values(row)
        return values


def _build(event: Binder, parts: Sequence[Binder]) -> WriteStatement:
    text, following = _numbered(event.text, 1)
    ctes = [
        f"e AS ({text})",
        "r AS (INSERT INTO decision_rules (seq, rule_id) SELECT e.seq, m.rule_id "
        f"FROM e CROSS JOIN unnest(${following}::varchar[]) AS m(rule_id))",
    ]
    following += 1
    for n, part in enumerate(parts):
        text, following = _numbered(part.text, following)
        ctes.append(f"w{n} AS ({text})")
    return WriteStatement("WITH " + ",\n".join(ctes) + "\nSELECT seq FROM e", event, tuple(parts))


# A statement's columns: the names of one row's values, in the row's own order.
Shape = tuple[tuple[UpdateBase, tuple[str, ...]], ...]


class Statements:
    """The write statement of each shape (which statements, for which columns), built once."""

    def __init__(self, dialect: sa.Dialect) -> None:
        self._dialect = dialect
        self._lock = threading.Lock()
        self._built: dict[tuple[tuple[str, ...], Shape], WriteStatement] = {}

    def get(self, event_columns: tuple[str, ...], shape: Shape) -> WriteStatement:
        """Return the statement that inserts an event of ``event_columns`` and writes ``shape``."""
        key = (event_columns, shape)
        found = self._built.get(key)
        if found is None:
            found = self._build(event_columns, shape)
            with self._lock:
                self._built[key] = found
        return found

    def __len__(self) -> int:
        return len(self._built)

    def _build(self, event_columns: tuple[str, ...], shape: Shape) -> WriteStatement:
        dialect = self._dialect
        event = binder(compiled(repo.INSERT_EVENT, dialect, event_columns), event_columns)
        parts = [binder(compiled(s, dialect, columns), columns) for s, columns in shape]
        return _build(event, parts)


_STATEMENTS: dict[str, Statements] = {}


def statements(dialect: sa.Dialect) -> Statements:
    """Return the process's write statements for ``dialect``."""
    found = _STATEMENTS.get(dialect.name)
    if found is None:
        found = _STATEMENTS.setdefault(dialect.name, Statements(dialect))
    return found


def shape_of(writes: Sequence[Write]) -> tuple[Shape, list[Mapping[str, Any]]]:
    """Return the shape of ``writes`` (a statement per row) and their rows, in that order."""
    shape: list[tuple[UpdateBase, tuple[str, ...]]] = []
    rows: list[Mapping[str, Any]] = []
    for write in writes:
        for row in write.rows:
            shape.append((write.statement, tuple(row)))
            rows.append(row)
    return tuple(shape), rows


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
        params = [case_id, now, customer_id, event_id, agent_id, cached_generation]
        driver = self._driver
        # BEGIN and the read in one pipeline: one round trip; the read is a
        # bound, prepared statement ($n placeholders: no conversion per call).
        with RawCursor(driver, row_factory=namedtuple_row) as cursor:
            with driver.pipeline():
                # One cursor for both: its result is the last one, the read's.
                cursor.execute("BEGIN")
                cursor.execute(_READ, params, prepare=True)
            # Fetched once the pipeline is synced: fetching inside it syncs it twice.
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

    def write_and_commit(
        self, event_row: Mapping[str, Any], rule_ids: Sequence[str], writes: Sequence[Write]
    ) -> int:
        """Store the event, its rules and ``writes`` in one statement and commit; return its seq.

        The statement and the COMMIT travel together (one round trip); from
        here on a lost connection leaves the outcome unknown.
        """
        shape, rows = shape_of(writes)
        statement = statements(self._conn.dialect).get(tuple(event_row), shape)
        values = statement.values(event_row, rule_ids, rows)
        driver = self._driver
        self.committing = True
        with RawCursor(driver) as cursor:
            with driver.pipeline():
                cursor.execute(statement.text, values, prepare=True)
                driver.execute("COMMIT")
            found = cursor.fetchone()
        assert found is not None
        return int(found[0])

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
                if not (driver.closed or driver.broken):
                    # A write refused with its COMMIT (a unique violation) leaves
                    # the transaction failed: end it and keep the connection.
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
