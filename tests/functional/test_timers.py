"""Timers under the real server: deadlines fire by themselves, once, and survive a crash.

Nothing here asserts on timing: each test waits, with a generous deadline, for
what must eventually be true.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook

from schemas.api import EventV1Schema
from service.ingest import ingest
from service.policy import Policy
from service.store.db import create_engine, migrate
from service.store.repository import Store
from service.store.schema import deadlines, events
from tests.support.receiver import Receiver
from tests.support.server import Server
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow

# A deadline fires within a poll of falling due; this leaves room for a busy machine.
WAIT_SECONDS = 90.0


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def send(server: Server, case_id: str, event: dict[str, Any]) -> dict[str, Any]:
    """Post an event (retried by the client on request errors: the event id makes it safe)."""
    answer = server.client.post(f"/v1/cases/{case_id}/events", json=event)
    assert answer.status_code in (200, 201), answer.text
    result: dict[str, Any] = answer.json()
    return result


def timer_decisions(server: Server, case_id: str) -> list[dict[str, Any]]:
    answer = server.client.get("/v1/decisions", params={"case_id": case_id})
    assert answer.status_code == 200, answer.text
    return [d for d in answer.json()["decisions"] if d.get("trigger") == "timer"]


def logged_ids(server: Server) -> set[str]:
    path = server.instance / "decisions.jsonl"
    if not path.exists():
        return set()
    lines = path.read_text(encoding="utf-8").splitlines()
    return {json.loads(line)["decision_id"] for line in lines if line.endswith("}")}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    instance = tmp_path_factory.mktemp("timers") / "instance"
    with Server(
        instance,
        workers=2,
        ESCALATION_TIMER_POLL_SECONDS="2",
        ESCALATION_ACCESS_LOG="/dev/null",
        ESCALATION_DECISION_LOG=str(instance / "decisions.jsonl"),
    ) as running:
        yield running


def test_a_promised_call_back_not_made_fires_and_one_made_does_not(server: Server) -> None:
    receiver = Receiver()
    registered = server.client.put(
        "/v1/webhooks/tickets", json={"url": receiver.url, "events": "time_driven"}
    )
    assert registered.status_code == 201, registered.text
    hook = Webhook(registered.json()["secret"])
    now = datetime.now(UTC)
    promise = {"type": "callback_promised", "occurred_at": stamp(now), "channel": "phone"}
    # The kept promise is due first: had it not been cancelled, it would fire first.
    send(
        server,
        "CB-kept",
        {
            **promise,
            "event_id": "cb-kept-1",
            "attributes": {"callback_at": stamp(now + timedelta(seconds=20))},
        },
    )
    send(
        server,
        "CB-missed",
        {
            **promise,
            "event_id": "cb-missed-1",
            "attributes": {"callback_at": stamp(now + timedelta(seconds=30))},
        },
    )
    send(
        server,
        "CB-kept",
        {
            "event_id": "cb-kept-2",
            "type": "callback_done",
            "occurred_at": stamp(now + timedelta(seconds=5)),
            "channel": "phone",
        },
    )

    fired = wait_until(
        lambda: timer_decisions(server, "CB-missed"),
        timeout=30 + WAIT_SECONDS,
        interval=0.5,
        message="no time-driven decision for the call-back not made",
    )

    reminder = fired[0]
    assert reminder["timer"]["id"] == "promised-callback"
    assert reminder["timer"]["state"] == "warning"
    assert reminder["event_id"].startswith("deadline:")
    assert [m["id"] for m in reminder["matched_rules"]] == ["promised-callback-due"]
    wait_until(
        lambda: reminder["decision_id"] in logged_ids(server),
        timeout=WAIT_SECONDS,
        message="the time-driven decision is not in the decision log",
    )
    assert timer_decisions(server, "CB-kept") == []

    # The ticketing system hears of the decision it did not ask for, signed.
    wait_until(
        receiver.count,
        timeout=WAIT_SECONDS,
        message="the webhook receiver got nothing for the time-driven decision",
    )
    receiver.close()
    assert server.client.delete("/v1/webhooks/tickets").status_code == 204
    delivered = receiver.received[0]
    message = hook.verify(delivered.body, delivered.headers)
    assert message["type"] == "decision.time_driven"
    assert message["data"]["decision_id"] == reminder["decision_id"]
    assert delivered.headers["webhook-id"] == reminder["decision_id"]
    assert {json.loads(r.body)["data"]["case_id"] for r in receiver.received} == {"CB-missed"}


def test_an_email_unanswered_for_25_hours_breaches_the_response_policy_at_once(
    server: Server,
) -> None:
    sent = datetime.now(UTC) - timedelta(hours=25)
    send(
        server,
        "MAIL-1",
        {
            "event_id": "mail-1",
            "type": "customer_message",
            "occurred_at": stamp(sent),
            "channel": "email",
            "customer": {"id": "cus-mail"},
            "text": "Where is my refund?",
        },
    )

    def breached() -> list[dict[str, Any]]:
        return [
            d
            for d in timer_decisions(server, "MAIL-1")
            if (d["timer"]["id"], d["timer"]["state"]) == ("written-first-response", "breached")
        ]

    breach = wait_until(
        breached, timeout=WAIT_SECONDS, interval=0.5, message="the 24-hour policy did not fire"
    )[0]
    assert breach["outcome"] == "escalate"
    assert [m["id"] for m in breach["matched_rules"]] == ["written-response-overdue"]
    # Posting the timer's own event is refused.
    refused = server.client.post(
        "/v1/cases/MAIL-1/events",
        json={"event_id": "fake", "type": "deadline_reached", "occurred_at": stamp(sent)},
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "validation_failed"


@pytest.mark.postgres
def test_two_servers_fire_1000_deadlines_exactly_once_through_a_kill_9(
    tmp_path: Path, postgres_schema: str, policy: Policy
) -> None:
    started = [
        Server(
            tmp_path / name,
            workers=1,  # the PostgreSQL server is shared: keep connections few
            database_url=postgres_schema,
            ESCALATION_TIMER_POLL_SECONDS="1",
            ESCALATION_ACCESS_LOG="/dev/null",
        )
        for name in ("a", "b")
    ]
    for server in started:
        server.start()
    a, b = started
    engine = create_engine(postgres_schema)
    try:
        migrate(engine, tmp_path / "migrate.lock")
        store = Store(engine)
        # 1,000 call-backs promised for the same minute, one every 50 ms, so that a
        # server killed once a fifth have fired dies with most still to come.
        base = datetime.now(UTC) + timedelta(seconds=5)
        loader = EventV1Schema()
        for n in range(1000):
            raw = {
                "event_id": f"promise-{n}",
                "type": "callback_promised",
                "occurred_at": stamp(datetime.now(UTC)),
                "channel": "phone",
                "attributes": {"callback_at": stamp(base + timedelta(milliseconds=50 * n))},
            }
            ingest(store, policy, f"CASE-{n}", loader.load(raw), raw)

        def fired() -> int:
            with engine.connect() as conn:
                count: int = conn.execute(
                    sa.select(sa.func.count()).where(events.c.type == "deadline_reached")
                ).scalar_one()
            return count

        wait_until(
            lambda: fired() >= 200,
            timeout=120 + WAIT_SECONDS,
            interval=0.2,
            message="deadlines did not start firing",
        )
        a.kill9()
        at_kill = fired()
        wait_until(
            lambda: fired() >= 1000,
            timeout=120 + WAIT_SECONDS,
            interval=0.5,
            message=lambda: f"{fired()} of 1000 deadlines fired",
        )

        with engine.connect() as conn:
            ids = (
                conn.execute(
                    sa.select(events.c.event_id).where(events.c.type == "deadline_reached")
                )
                .scalars()
                .all()
            )
            states = dict(
                conn.execute(
                    sa.select(deadlines.c.state, sa.func.count())
                    .where(
                        deadlines.c.timer_id == "promised-callback", deadlines.c.kind == "warning"
                    )
                    .group_by(deadlines.c.state)
                ).all()
            )
            closed_by = (
                conn.execute(sa.select(deadlines.c.closed_by).where(deadlines.c.state == "fired"))
                .scalars()
                .all()
            )
        print(f"{at_kill} of 1000 deadlines had fired when one server was killed")
        assert len(ids) == len(set(ids)) == 1000
        assert states == {"fired": 1000}
        assert sorted(closed_by) == sorted(ids)
        # The feed shows a decision once older writers on the server have finished.
        sample = wait_until(lambda: timer_decisions(b, "CASE-999"))
        assert [d["timer"]["id"] for d in sample] == ["promised-callback"]
    finally:
        for server in started:
            server.stop()
        engine.dispose()
