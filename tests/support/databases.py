"""Real databases for the tests: a SQLite file, or a fresh schema on the PostgreSQL server.

PostgreSQL tests skip, with the reason shown in the summary, where no server
answers; under CI (CI=true) they fail instead, because there they must run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest
import sqlalchemy as sa

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgres")


@cache
def postgres_unavailable() -> str | None:
    """Return why PostgreSQL cannot be used, or None when it can."""
    try:
        # A refused connection fails at once; the timeout only matters on a busy machine.
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 30})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect means: not here
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"PostgreSQL is not reachable at {POSTGRES_URL}: {first_line}"
    return None


def require_postgres() -> None:
    """Skip (or fail under CI) when PostgreSQL is not reachable."""
    reason = postgres_unavailable()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: PostgreSQL tests must run)")
    pytest.skip(reason)


@contextmanager
def temporary_schema(prefix: str = "t") -> Iterator[str]:
    """Create an empty schema on the PostgreSQL server, yield a URL using it, then drop it."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    """Return a URL of an empty schema on the PostgreSQL server, dropped afterwards."""
    require_postgres()
    with temporary_schema() as url:
        yield url


def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Return a fresh database URL for ``backend``."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'escalation.db'}"
    url: str = request.getfixturevalue("postgres_schema")
    return url
