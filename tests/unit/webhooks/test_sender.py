"""The webhook outbox and sender on a real database, with a real receiver on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook

from service.store import codec
from service.store import webhooks as db
from service.store.db import create_engine, migrate
from service.store.repository import Store
from service.webhooks import outbox, queue_decision, rules
from service.webhooks.sender import Sender
from tests.support.databases import BACKENDS, database_url
from tests.support.receiver import Receiver

SECRET = rules.new_secret()


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    engine = create_engine(database_url(request.param, tmp_path, request))
    migrate(engine, tmp_path / "lock")
    yield Store(engine)
    engine.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as found:
        yield found


def register(store: Store, url: str, events: str = "all", name: str = "tickets") -> db.Endpoint:
    with store.write() as conn:
        endpoint, _ = db.put_endpoint(conn, name, url, SECRET, events, _now())
    outbox.forget(store.engine)
    return endpoint


def decide(store: Store, outcome: str = "escalate", *, time_driven: bool = False) -> str:
    decision_id = str(uuid.uuid4())
    decision = codec.decision_from_json(
        {
            "decision_id": decision_id,
            "case_id": "C-1",
            "event_id": f"evt-{decision_id}",
            "outcome": outcome,
            "priority": "normal",
            "rules_revision": "sha256:test",
            "evaluated_at": codec.stamp(_now()),
            "duration_ms": 1.5,
        }
    )
    with store.write() as conn:
        queue_decision(conn, decision, customer_id="cus-1", time_driven=time_driven, now=_now())
    return decision_id


def deliveries(store: Store, endpoint: db.Endpoint, **filters: Any) -> list[db.Delivery]:
    with store.read() as conn:
        return db.list_deliveries(conn, endpoint.seq, limit=500, **filters)


def test_nothing_is_queued_without_an_endpoint(store: Store) -> None:
    decide(store)

    with store.read() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM webhook_deliveries")).scalar()
    assert count == 0


def test_each_endpoint_gets_the_decisions_its_filter_picks(store: Store) -> None:
    everything = register(store, "http://127.0.0.1:1/a", "all", "everything")
    escalations = register(store, "http://127.0.0.1:1/b", "escalations", "escalations")
    timers = register(store, "http://127.0.0.1:1/c", "time_driven", "timers")

    escalated = decide(store, "escalate")
    routed = decide(store, "route")
    timed = decide(store, "none", time_driven=True)

    assert [d.decision_id for d in deliveries(store, everything)] == [timed, routed, escalated]
    assert [d.decision_id for d in deliveries(store, escalations)] == [escalated]
    assert [(d.decision_id, d.type) for d in deliveries(store, timers)] == [
        (timed, "decision.time_driven")
    ]


def test_an_endpoint_disabled_by_another_process_gets_nothing_though_still_cached(
    store: Store,
) -> None:
    endpoint = register(store, "http://127.0.0.1:1/a")
    decide(store)  # fills this process's cache with the endpoint
    with store.write() as conn:
        db.disable_endpoint(conn, endpoint.seq, "test", _now())

    decide(store)

    assert len(deliveries(store, endpoint)) == 1
    assert deliveries(store, endpoint)[0].status == "cancelled"


def test_a_decision_arrives_signed_with_its_id_as_webhook_id(
    store: Store, receiver: Receiver
) -> None:
    endpoint = register(store, receiver.url)
    decision_id = decide(store)

    assert Sender(store).run_once() == 1

    [got] = receiver.received
    message = Webhook(SECRET).verify(got.body, got.headers)
    assert got.headers["webhook-id"] == decision_id
    assert message["type"] == "decision.created"
    assert message["data"]["decision_id"] == decision_id
    assert message["data"]["outcome"] == "escalate"
    assert message["data"]["customer_id"] == "cus-1"
    [delivery] = deliveries(store, endpoint)
    assert delivery.status == "delivered"
    assert [a["status_code"] for a in delivery.attempts] == [200]
    assert delivery.next_attempt_at is None


class CrashingSender(Sender):
    """A sender whose process dies after sending, before the attempt is recorded."""

    def record(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the process died")


def test_a_crash_after_sending_sends_again_with_the_same_id_once_the_lease_ends(
    store: Store, receiver: Receiver
) -> None:
    register(store, receiver.url)
    decision_id = decide(store)
    with pytest.raises(RuntimeError, match="died"):
        CrashingSender(store).run_once()

    assert Sender(store).run_once() == 0  # still leased to the crashed sender
    later = Sender(store, clock=lambda: _now() + timedelta(seconds=120))
    assert later.run_once() == 1

    assert [r.headers["webhook-id"] for r in receiver.received] == [decision_id, decision_id]
    assert receiver.received[0].body == receiver.received[1].body


def test_failures_are_retried_on_the_schedule_then_the_delivery_fails(store: Store) -> None:
    with Receiver(then=500) as receiver:
        endpoint = register(store, receiver.url)
        decide(store)
        sender = Sender(store, (0.0, 30.0, 60.0))

        sender.run_once()
        [delivery] = deliveries(store, endpoint)
        first = datetime.fromisoformat(delivery.attempts[0]["at"])
        assert delivery.status == "pending"
        assert delivery.next_attempt_at == first + timedelta(seconds=30)
        assert sender.run_once() == 0  # not due yet

        for wait in (30, 90):
            Sender(
                store, (0.0, 30.0, 60.0), clock=lambda w=wait: _now() + timedelta(seconds=w + 1)
            ).run_once()

    [delivery] = deliveries(store, endpoint)
    assert delivery.status == "failed"
    assert [a["status_code"] for a in delivery.attempts] == [500, 500, 500]
    assert delivery.next_attempt_at is None
    assert receiver.count() == 3


def test_retry_after_moves_the_next_attempt(store: Store) -> None:
    with Receiver(answers=[(503, {"Retry-After": "7"})]) as receiver:
        endpoint = register(store, receiver.url)
        decide(store)

        Sender(store, (0.0, 5.0, 5.0)).run_once()

    [delivery] = deliveries(store, endpoint)
    first = datetime.fromisoformat(delivery.attempts[0]["at"])
    assert delivery.attempts[0]["status_code"] == 503
    assert delivery.next_attempt_at == first + timedelta(seconds=7)


def test_410_disables_the_endpoint_and_cancels_what_it_had_pending(store: Store) -> None:
    with Receiver(answers=[(410, {})]) as receiver:
        endpoint = register(store, receiver.url)
        decide(store)
        decide(store)

        sender = Sender(store)
        sender.batch = 1
        sender.run_once()

    with store.read() as conn:
        after = db.get_endpoint(conn, endpoint.id)
    assert after is not None
    assert after.enabled is False
    assert after.disabled_reason is not None
    assert "410" in after.disabled_reason
    assert sorted(d.status for d in deliveries(store, endpoint)) == ["cancelled", "failed"]
    assert receiver.count() == 1
    decide(store)
    assert deliveries(store, endpoint, status="pending") == []


def test_a_network_error_is_recorded_and_retried(store: Store) -> None:
    with Receiver() as closed:
        url = closed.url
    endpoint = register(store, url)
    decide(store)

    Sender(store, (0.0, 5.0)).run_once()

    [delivery] = deliveries(store, endpoint)
    assert delivery.status == "pending"
    assert delivery.attempts[0]["status_code"] is None
    assert "network error" in delivery.attempts[0]["error"]


def test_two_senders_on_one_database_send_each_delivery_once(
    store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    register(store, receiver.url)
    expected = {decide(store) for _ in range(40)}
    # A second process: its own engine (and pool) on the same database.
    other = Store(create_engine(store.engine.url.render_as_string(hide_password=False)))
    senders = [Sender(store, batch=3), Sender(other, batch=3)]
    errors: list[BaseException] = []

    def work(sender: Sender) -> None:
        try:
            while sender.run_once():
                pass
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    other.engine.dispose()

    assert errors == []
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert sorted(ids) == sorted(expected)
    assert {json.loads(r.body)["data"]["decision_id"] for r in receiver.received} == expected


def test_deleting_an_endpoint_cancels_its_pending_deliveries(store: Store) -> None:
    endpoint = register(store, "http://127.0.0.1:1/a")
    decide(store)

    with store.write() as conn:
        assert db.delete_endpoint(conn, endpoint.id, _now())
    again = register(store, "http://127.0.0.1:1/a")

    assert again.seq != endpoint.seq
    assert [d.status for d in deliveries(store, endpoint)] == ["cancelled"]
    assert deliveries(store, again) == []
