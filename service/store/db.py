"""Database engines for SQLite (embedded default) and PostgreSQL, and schema migration.

SQLite runs in WAL mode with ``synchronous=FULL``, so a committed transaction
survives a crash of the process or the machine; write transactions start with
``BEGIN IMMEDIATE`` and wait up to the busy timeout for the write lock, which
serialises writers across processes.  PostgreSQL uses row locks per case and
per customer; its pool pings nothing at checkout (``_drop_closed`` instead).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import select
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event as sa_event

from service import jsonwire

log = logging.getLogger(__name__)

MIGRATIONS = str(Path(__file__).resolve().parent / "migrations")
BUSY_TIMEOUT_MS = 30_000
# PostgreSQL connections are replaced after this long (firewalls drop idle ones).
POOL_RECYCLE_SECONDS = 1800
# One number for PostgreSQL's advisory lock around migrations.
MIGRATION_LOCK_KEY = 0x65736331


def normalize_url(url: str) -> str:
    """Use the psycopg 3 driver for PostgreSQL URLs that do not name a driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_setup(engine: sa.Engine) -> None:
    @sa_event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa_event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        # Writers take the write lock up front, so two writers never deadlock
        # upgrading read locks; readers use a plain deferred transaction.
        begin = "BEGIN" if conn.get_execution_options().get("read_only") else "BEGIN IMMEDIATE"
        # On the driver: one per transaction, without SQLAlchemy's statement work.
        driver = conn.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        try:
            driver.execute(begin)
        except sqlite3.Error as exc:
            # Raised as conn.execute would (busy: OperationalError, which callers retry).
            raise sa.exc.DBAPIError.instance(
                begin, None, exc, sqlite3.Error, hide_parameters=True
            ) from exc


class _NoRows(logging.Filter):
    """Drop SQLAlchemy's result-row lines (logged at DEBUG): rows hold message text and secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith("Row "))


NO_ROWS = _NoRows()


def create_engine(url: str) -> sa.Engine:
    """Create an engine for ``url`` with the settings this service relies on.

    ``hide_parameters``: a database error names its statement, never the values
    bound to it, so an event's message text cannot reach a log through one.
    """
    url = normalize_url(url)
    # Parameters are hidden by the engine (hide_parameters); rows only by this filter.
    logging.getLogger("sqlalchemy.engine.Engine").addFilter(NO_ROWS)
    if url.startswith("sqlite"):
        database = sa.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            # JSON columns written by orjson where it agrees with json (_json_text).
            json_serializer=_json_text,
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            # A file has no connection to lose: no ping per checkout.
            pool_pre_ping=False,
            hide_parameters=True,  # errors and logs never carry event bodies
        )
        _sqlite_setup(engine)
        return engine
    engine = sa.create_engine(
        url,
        # JSONB values read and written by orjson where it agrees with json (_json_dumps).
        json_serializer=_json_dumps,
        json_deserializer=_json_loads,
        pool_size=8,
        max_overflow=8,
        # No ping per checkout (a round trip per transaction): a connection the
        # server closed is found by _drop_closed at no cost, a lost one by the
        # first statement, and the event path does its transaction again.
        pool_pre_ping=False,
        pool_recycle=POOL_RECYCLE_SECONDS,
        pool_timeout=30,
        hide_parameters=True,  # errors and logs never carry event bodies
    )
    sa_event.listen(engine, "checkout", _drop_closed)
    return engine


def _json_dumps(value: Any) -> bytes | str:
    """Write a JSONB value with orjson, or with json where orjson cannot (the same JSON value).

    The server stores JSONB parsed, so compact or spaced, escaped or not, the
    stored value is the same; what orjson refuses (integers past 64 bits,
    non-string keys) goes json's way, and so do its errors.
    """
    try:
        return jsonwire.dumps(value)
    except jsonwire.Unsure:
        return json.dumps(value)


def _json_text(value: Any) -> str:
    """Write a SQLite JSON value (text) with orjson, or with json where orjson cannot.

    Compact and not ASCII-escaped, unlike json's default; every reader parses
    it, and values stored before read the same.
    """
    written = _json_dumps(value)
    return written.decode("utf-8") if isinstance(written, bytes) else written


def _json_loads(raw: bytes | str) -> Any:
    """Read a JSON value the server wrote, with orjson where its reading is json's.

    The server writes JSONB without duplicate keys or NaN; only long integers,
    and anything orjson refuses, are left to json.
    """
    if isinstance(raw, bytes) and not jsonwire.has_long_integer(raw):
        with contextlib.suppress(orjson.JSONDecodeError):
            return orjson.loads(raw)
    return json.loads(raw)


def _drop_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Refuse a pooled connection the server has closed, without a round trip.

    An idle connection gets nothing from the server unless the server ends it
    (a terminated backend, a restart: an error message, then end of file), so
    readable means closed; the pool then opens a fresh one (DisconnectionError).
    """
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is None:
        return
    if dbapi_connection.closed or dbapi_connection.broken:
        raise sa.exc.DisconnectionError("connection closed")
    poller = select.poll()
    poller.register(pgconn.socket, select.POLLIN | select.POLLERR | select.POLLHUP)
    if poller.poll(0):
        dbapi_connection.close()
        raise sa.exc.DisconnectionError("the server closed the connection")


def alembic_config(engine: sa.Engine) -> Config:
    """Return an Alembic configuration for this package's migrations."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    # configparser treats % as interpolation: escape it.
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", url)
    return config


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def migrate(engine: sa.Engine, lock_file: Path, revision: str = "head") -> None:
    """Bring the schema to ``revision``, one process at a time; existing data is kept.

    Worker processes on one machine take a file lock; on PostgreSQL an
    advisory lock also keeps several machines from migrating at once.
    """
    config = alembic_config(engine)
    with _file_lock(lock_file), engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")
        try:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
            conn.commit()
        finally:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")
                conn.commit()


def current_revision(engine: sa.Engine) -> str | None:
    """Return the schema revision the database is at."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        found = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        return str(found) if found is not None else None
