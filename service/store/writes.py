"""Writes as data: a prebuilt statement and its rows, run now or queued in a pipeline.

The event path computes every write of an event before sending any, so that
on PostgreSQL they travel to the server together with the COMMIT, in one
round trip (``service.store.pipeline``).  Elsewhere (SQLite, the timer
claimer) ``run`` executes them through SQLAlchemy as before.  The statements
are built once at import; the pipelined form compiles each once per set of
columns and binds values with the dialect's own processors, so no statement
is compiled per event.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.dml import UpdateBase


@dataclass(frozen=True)
class Write:
    """One statement with the rows it is executed for (several rows: executemany)."""

    statement: UpdateBase
    rows: Sequence[Mapping[str, Any]]


def run(conn: sa.Connection, writes: Iterable[Write]) -> None:
    """Execute ``writes`` in order in the caller's transaction."""
    for write in writes:
        if len(write.rows) == 1:
            conn.execute(write.statement, dict(write.rows[0]))
        elif write.rows:
            conn.execute(write.statement, [dict(r) for r in write.rows])


@dataclass(frozen=True)
class Compiled:
    """A statement compiled for one dialect and one set of columns, with its value binders."""

    sql: str
    compiled: sa.engine.Compiled
    processors: Mapping[str, Callable[[Any], Any] | None]

    def params(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Return the driver's parameters for ``row``: literal binds filled, values processed."""
        values = dict(self.compiled.construct_params(dict(row)) or {})
        for name, processor in self.processors.items():
            if processor is not None and name in values:
                values[name] = processor(values[name])
        return values


_cache: dict[tuple[UpdateBase, str, tuple[str, ...]], Compiled] = {}
_cache_lock = threading.Lock()


def compiled(statement: UpdateBase, dialect: sa.Dialect, columns: Sequence[str]) -> Compiled:
    """Compile ``statement`` for ``dialect`` once per set of columns; return it with its binders.

    Only statements built once (at import) belong here: the cache holds each
    for the life of the process.
    """
    key = (statement, dialect.name, tuple(columns))
    found = _cache.get(key)
    if found is not None:
        return found
    # for_executemany: no implicit RETURNING of the primary key, which nobody reads here.
    built = statement.compile(dialect=dialect, column_keys=list(columns), for_executemany=True)
    processors = {
        name: bind.type.dialect_impl(dialect).bind_processor(dialect)
        for name, bind in built.binds.items()
    }
    found = Compiled(built.string, built, processors)
    with _cache_lock:
        _cache[key] = found
    return found


def driver_error(conn: sa.Connection, exc: Exception) -> sa.exc.DBAPIError:
    """Return SQLAlchemy's error for a driver error, as ``conn.execute`` would raise it."""
    error = sa.exc.DBAPIError.instance(
        None, None, exc, conn.dialect.loaded_dbapi.Error, hide_parameters=True
    )
    assert isinstance(error, sa.exc.DBAPIError)  # a driver error always is one
    return error


@contextmanager
def translated(conn: sa.Connection) -> Iterator[None]:
    """Raise the driver's errors, met on ``conn``'s driver connection, as SQLAlchemy's."""
    try:
        yield
    except conn.dialect.loaded_dbapi.Error as exc:
        raise driver_error(conn, exc) from exc


def _positional(statement: Compiled, row: Mapping[str, Any]) -> list[Any]:
    order: Sequence[str] = getattr(statement.compiled, "positiontup", None) or ()
    try:
        # Every parameter in the row (the event path's statements): bind it directly,
        # without SQLAlchemy's construct_params, which only adds values the row lacks.
        return [
            row[name] if (process := statement.processors.get(name)) is None else process(row[name])
            for name in order
        ]
    except KeyError:
        values = statement.params(row)
        return [values[name] for name in order]


def run_on_driver(conn: sa.Connection, writes: Iterable[Write]) -> None:
    """Execute ``writes`` in order on the driver's cursor, in the caller's transaction.

    For a positional-parameter driver (SQLite's): what ``run`` does without
    SQLAlchemy's per-statement work.  Errors are raised as SQLAlchemy's.
    """
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with translated(conn):
            for write in writes:
                if not write.rows:
                    continue
                statement = compiled(write.statement, conn.dialect, sorted(write.rows[0]))
                rows = [_positional(statement, r) for r in write.rows]
                if len(rows) == 1:
                    cursor.execute(statement.sql, rows[0])
                else:
                    cursor.executemany(statement.sql, rows)
    finally:
        cursor.close()


def first_on_driver(conn: sa.Connection, statement: UpdateBase, row: Mapping[str, Any]) -> Any:
    """Execute one statement with RETURNING on the driver's cursor; return its first row."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    built = compiled(statement, conn.dialect, sorted(row))
    try:
        with translated(conn):
            cursor.execute(built.sql, _positional(built, row))
            return cursor.fetchone()
    finally:
        cursor.close()
