"""Decisions fired by timers reach the endpoints that want time-driven decisions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from schemas.api import EventV1Schema
from service.claimer import Claimer
from service.ingest import ingest
from service.policy import Policy
from service.store import webhooks as db
from service.store.db import create_engine, migrate
from service.store.repository import Store
from service.webhooks import outbox, rules
from service.webhooks.sender import Sender
from tests.support.databases import BACKENDS, database_url
from tests.support.receiver import Receiver

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
CALLBACK_AT = START + timedelta(hours=2)
SECRET = rules.new_secret()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    engine = create_engine(database_url(request.param, tmp_path, request))
    migrate(engine, tmp_path / "migrate.lock")
    yield Store(engine)
    engine.dispose()


def at(moment: datetime) -> Any:
    return lambda: moment


def test_a_missed_callback_is_pushed_as_a_time_driven_decision(
    store: Store, policy: Policy
) -> None:
    with Receiver() as receiver:
        with store.write() as conn:
            timers, _ = db.put_endpoint(conn, "timers", receiver.url, SECRET, "time_driven", START)
            everything, _ = db.put_endpoint(
                conn, "all", "http://127.0.0.1:1/", SECRET, "all", START
            )
        outbox.forget(store.engine)
        raw = {
            "event_id": "e-1",
            "type": "callback_promised",
            "channel": "phone",
            "occurred_at": START.isoformat(),
            "customer": {"id": "cus-1"},
            "attributes": {"callback_at": CALLBACK_AT.isoformat()},
        }
        ingest(store, policy, "C-1", EventV1Schema().load(raw), raw, clock=at(START))

        assert Claimer(store, lambda: policy, clock=at(CALLBACK_AT)).poll() == 1
        sent = Sender(store, clock=at(CALLBACK_AT + timedelta(seconds=1))).run_once()

    with store.read() as conn:
        pushed = db.list_deliveries(conn, timers.seq)
        all_kinds = [d.type for d in db.list_deliveries(conn, everything.seq)]
    assert sent >= 1
    assert [(d.type, d.status) for d in pushed] == [("decision.time_driven", "delivered")]
    assert all_kinds == ["decision.time_driven", "decision.created"]
    [got] = receiver.received
    message = Webhook(SECRET).verify(got.body, got.headers)
    assert message["type"] == "decision.time_driven"
    assert message["data"]["decision_id"] == pushed[0].decision_id == got.headers["webhook-id"]
    assert message["data"]["case_id"] == "C-1"
