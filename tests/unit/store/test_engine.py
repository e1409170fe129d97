"""The engine never writes bound values into its errors: message text must not reach a log."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from service.store.db import create_engine
from tests.support.databases import require_postgres, temporary_schema

SECRET = "my card number is 4111"


def failing_insert(engine: sa.Engine) -> str:
    insert = sa.text("INSERT INTO notes (id, body) VALUES (1, :b)")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        conn.execute(insert, {"b": SECRET})
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as caught:
        conn.execute(insert, {"b": SECRET})  # the same primary key again
    return str(caught.value)


def test_a_sqlite_error_names_the_statement_not_the_values(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        message = failing_insert(engine)
    finally:
        engine.dispose()

    assert "INSERT INTO notes" in message
    assert SECRET not in message


@pytest.mark.postgres
def test_a_postgres_error_names_the_statement_not_the_values() -> None:
    require_postgres()
    with temporary_schema() as url:
        engine = create_engine(url)
        try:
            message = failing_insert(engine)
        finally:
            engine.dispose()

    assert "INSERT INTO notes" in message
    assert SECRET not in message
