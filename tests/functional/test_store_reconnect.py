"""A PostgreSQL that dropped every connection costs the next request nothing but a reconnect.

The pool pings nothing at checkout (a round trip per transaction); a
connection the server closed is refused at checkout by looking at its socket,
and a connection lost under a transaction makes the event path do the whole
transaction again, since nothing was committed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from service.policy import Policy
from service.store import db
from tests.conftest import open_app
from tests.support.databases import POSTGRES_URL
from tests.support.events import body

pytestmark = pytest.mark.postgres


@pytest.fixture
def named_app(tmp_path: Path, policy: Policy, postgres_schema: str) -> Iterator[tuple[Flask, str]]:
    """Yield an app on PostgreSQL whose connections carry an application name of their own."""
    name = postgres_schema.rsplit("%3D", 1)[1]
    for application in open_app(tmp_path, policy, f"{postgres_schema}&application_name={name}"):
        yield application, name


def terminate(name: str) -> int:
    """Terminate every server process of the connections named ``name``; return how many."""
    admin = sa.create_engine(POSTGRES_URL)
    try:
        with admin.begin() as conn:
            ended = conn.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :name"
                ),
                {"name": name},
            ).scalar_one()
    finally:
        admin.dispose()
    return int(ended)


def test_requests_after_every_connection_was_terminated_succeed(
    named_app: tuple[Flask, str],
) -> None:
    application, name = named_app
    client = application.test_client()
    assert client.post("/v1/cases/C-1/events", json=body(event_id="e-1")).status_code == 201

    assert terminate(name) >= 1

    assert client.post("/v1/cases/C-1/events", json=body(event_id="e-2")).status_code == 201
    case = client.get("/v1/cases/C-1")
    assert case.status_code == 200
    assert case.get_json()["event_count"] == 2


def test_an_event_on_a_connection_lost_under_it_is_stored_by_a_second_attempt(
    named_app: tuple[Flask, str], caplog: pytest.LogCaptureFixture
) -> None:
    application, name = named_app
    services = application.extensions["escalation"]
    # Quiet the pollers: the request must be the first to meet the dead connection.
    services.policies.stop()
    services.keys.stop()
    application.extensions["webhook_sender"].stop()
    application.extensions["text_purger"].stop()
    engine = services.store.engine
    # Without the checkout look at the socket, the event path meets the dead
    # connection itself: the loss is found by its first statement.
    sa.event.remove(engine, "checkout", db._drop_closed)
    client = application.test_client()
    assert client.post("/v1/cases/C-1/events", json=body(event_id="e-1")).status_code == 201

    assert terminate(name) >= 1

    with caplog.at_level(logging.WARNING, logger="service.ingest"):
        again = client.post("/v1/cases/C-1/events", json=body(event_id="e-2"))
    assert again.status_code == 201, again.get_json()
    assert "connection lost on event e-2; retrying" in caplog.messages
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT event_count FROM cases WHERE case_id = 'C-1'"))
        assert count.scalar_one() == 2
