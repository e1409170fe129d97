"""Migrations: the schema is created and upgraded in place, keeping the data it holds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from service.store.db import alembic_config, create_engine, current_revision, migrate
from service.store.schema import metadata
from tests.support.databases import BACKENDS, database_url

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def head(engine: sa.Engine) -> str:
    """Return the newest migration's revision."""
    found = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert found is not None
    return found


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> sa.Engine:
    return create_engine(database_url(request.param, tmp_path, request))


def test_a_new_database_is_migrated_to_the_schema_the_code_uses(
    engine: sa.Engine, tmp_path: Path
) -> None:
    migrate(engine, tmp_path / "lock")

    assert current_revision(engine) == head(engine)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_migrating_twice_changes_nothing(engine: sa.Engine, tmp_path: Path) -> None:
    migrate(engine, tmp_path / "lock")
    migrate(engine, tmp_path / "lock")

    assert current_revision(engine) == head(engine)


def test_an_upgrade_keeps_existing_data(engine: sa.Engine, tmp_path: Path) -> None:
    migrate(engine, tmp_path / "lock", revision="0001")
    decision = {
        "decision_id": "d-1",
        "matched_rules": [{"id": "legal-threat"}, {"id": "anger-first"}],
    }
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO cases (case_id, customer_id, state, event_count, created_at, updated_at) "
                "VALUES ('C-1', 'cus-1', :state, 1, :now, :now)"
            ),
            {"state": '{"messages": 1}', "now": NOW},
        )
        conn.execute(
            sa.text(
                "INSERT INTO events (event_id, case_id, body_hash, type, occurred_at, received_at, event, "
                "decision_id, decision, outcome, customer_id, rules_revision) VALUES ('e-1', 'C-1', 'h', "
                "'customer_message', :now, :now, '{}', 'd-1', :decision, 'escalate', 'cus-1', 'sha256:x')"
            ),
            {"now": NOW, "decision": __import__("json").dumps(decision)},
        )

    migrate(engine, tmp_path / "lock")

    with engine.connect() as conn:
        case = conn.execute(sa.text("SELECT customer_id, event_count FROM cases")).one()
        event = conn.execute(
            sa.text("SELECT event_id, logged, snapshot, txid, purged_at FROM events")
        ).one()
        rules = sorted(conn.execute(sa.text("SELECT rule_id FROM decision_rules")).scalars())
    assert tuple(case) == ("cus-1", 1)
    assert event.event_id == "e-1"
    assert bool(event.logged) is True  # decisions stored before the outbox count as logged
    assert rules == ["anger-first", "legal-threat"]
    assert event.snapshot is None  # its state was not recorded: replay skips it
    assert (event.txid, event.purged_at) == (0, None)  # first in the feed; text not purged
