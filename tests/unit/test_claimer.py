"""Deadlines written with their events, and the claimer that fires each exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from marshmallow import ValidationError

from schemas.api import CaseEventV1Schema, EventV1Schema
from service.claimer import Claimer, Fired, fire
from service.ingest import ingest
from service.policy import Policy
from service.store import codec
from service.store import repository as repo
from service.store.db import create_engine, migrate
from service.store.repository import Store
from service.store.schema import cases, events
from service.timers import deadlines
from tests.support.databases import BACKENDS, database_url

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
CALLBACK_AT = START + timedelta(hours=2)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    engine = create_engine(database_url(request.param, tmp_path, request))
    migrate(engine, tmp_path / "migrate.lock")
    yield Store(engine)
    engine.dispose()


def post(store: Store, policy: Policy, case_id: str, event_id: str, **body: Any) -> dict[str, Any]:
    raw = {"event_id": event_id, "occurred_at": START.isoformat(), "customer": {"id": "cus-1"}}
    raw.update(body)
    decision: dict[str, Any] = ingest(
        store, policy, case_id, EventV1Schema().load(raw), raw
    ).decision
    return decision


def promise(store: Store, policy: Policy, case_id: str = "C-1", event_id: str = "e-1") -> None:
    post(
        store,
        policy,
        case_id,
        event_id,
        type="callback_promised",
        channel="phone",
        attributes={"callback_at": CALLBACK_AT.isoformat()},
    )


def rows(store: Store, case_id: str) -> list[tuple[str, str, str, datetime]]:
    with store.read() as conn:
        return [(d.timer_id, d.kind, d.state, d.due_at) for d in deadlines.of_case(conn, case_id)]


def at(moment: datetime) -> Any:
    return lambda: moment


def timer_decisions(store: Store, case_id: str) -> list[dict[str, Any]]:
    # Read from the table: the decision feed shows a row only once every older writer on
    # the PostgreSQL server (other tests' too) has finished (docs/decision-feed.md).
    with store.read() as conn:
        found = conn.execute(
            sa.select(events.c.decision).where(events.c.case_id == case_id).order_by(events.c.seq)
        ).scalars()
        return [
            codec.decision_to_json(codec.decision_from_json(d))
            for d in found
            if d.get("trigger") == "timer"
        ]


def test_a_start_event_writes_its_deadlines_in_its_transaction(
    store: Store, policy: Policy
) -> None:
    promise(store, policy)

    promised = [r for r in rows(store, "C-1") if r[0] == "promised-callback"]
    assert promised == [
        ("promised-callback", "warning", "pending", CALLBACK_AT),
        ("promised-callback", "breach", "pending", CALLBACK_AT + timedelta(minutes=10)),
    ]


def test_deadlines_fire_when_due_as_time_driven_decisions(store: Store, policy: Policy) -> None:
    promise(store, policy)
    fired: list[Fired] = []

    before = Claimer(
        store, lambda: policy, on_fired=fired.append, clock=at(CALLBACK_AT - timedelta(minutes=1))
    )
    assert before.poll() == 0

    reminder = Claimer(store, lambda: policy, on_fired=fired.append, clock=at(CALLBACK_AT))
    assert reminder.poll() == 1
    late = CALLBACK_AT + timedelta(minutes=10)
    assert Claimer(store, lambda: policy, on_fired=fired.append, clock=at(late)).poll() == 1
    assert Claimer(store, lambda: policy, on_fired=fired.append, clock=at(late)).poll() == 0

    warning, breach = timer_decisions(store, "C-1")
    assert warning["timer"]["id"] == "promised-callback"
    assert warning["timer"]["state"] == "warning"
    assert [m["id"] for m in warning["matched_rules"]] == ["promised-callback-due"]
    assert breach["timer"]["state"] == "breached"
    assert breach["outcome"] == "escalate"
    assert [e["to"] for e in breach["escalations"]] == ["supervisor"]
    assert [f.decision["decision_id"] for f in fired] == [
        warning["decision_id"],
        breach["decision_id"],
    ]
    states = {r[1]: r[2] for r in rows(store, "C-1") if r[0] == "promised-callback"}
    assert states == {"warning": "fired", "breach": "fired"}
    with store.read() as conn:
        stored, count = repo.case_consistency(conn, "C-1")
    assert stored == count == 3


def test_a_stop_event_cancels_the_pending_deadlines(store: Store, policy: Policy) -> None:
    promise(store, policy)
    post(store, policy, "C-1", "e-2", type="callback_done", channel="phone")

    states = {r[2] for r in rows(store, "C-1") if r[0] == "promised-callback"}
    assert states == {"cancelled"}
    far = Claimer(store, lambda: policy, clock=at(CALLBACK_AT + timedelta(days=1)))

    assert far.poll() == 0
    assert timer_decisions(store, "C-1") == []


def test_a_second_start_restarts_the_timer(store: Store, policy: Policy) -> None:
    first = {"type": "customer_message", "channel": "email", "text": "Where is my refund?"}
    post(store, policy, "C-1", "e-1", **first)
    later = (START + timedelta(hours=3)).isoformat()
    post(store, policy, "C-1", "e-2", **{**first, "occurred_at": later})

    written = [r for r in rows(store, "C-1") if r[0] == "written-first-response"]
    assert sorted((r[1], r[2], r[3]) for r in written) == sorted(
        [
            ("warning", "pending", START + timedelta(hours=21)),
            ("breach", "pending", START + timedelta(hours=27)),
        ]
    )


def test_a_timer_condition_decides_whether_it_starts(store: Store, policy: Policy) -> None:
    post(store, policy, "C-1", "e-1", type="customer_message", channel="chat", text="Hi")

    assert [r for r in rows(store, "C-1") if r[0] == "written-first-response"] == []


def test_a_deadline_cannot_be_stored_as_fired_twice(store: Store, policy: Policy) -> None:
    promise(store, policy)
    assert Claimer(store, lambda: policy, clock=at(CALLBACK_AT)).poll() == 1
    with store.read() as conn:
        done = next(d for d in deadlines.of_case(conn, "C-1") if d.state == "fired")

    # Even a claimer that took the row as still pending cannot store a second firing.
    def fire_again() -> None:
        with store.write() as conn:
            case_row = conn.execute(sa.select(cases).where(cases.c.case_id == "C-1")).one()
            fire(conn, policy, done, case_row, CALLBACK_AT)

    with pytest.raises(sa.exc.IntegrityError):
        fire_again()

    assert len(timer_decisions(store, "C-1")) == 1


def test_a_firing_that_fails_leaves_the_row_for_the_next_poll(store: Store, policy: Policy) -> None:
    promise(store, policy)
    calls = []

    def flaky() -> Policy:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the worker died mid-way")
        return policy

    claimer = Claimer(store, flaky, clock=at(CALLBACK_AT))
    assert claimer.poll() == 0  # rolled back, skipped for this poll
    assert ("promised-callback", "warning", "pending", CALLBACK_AT) in rows(store, "C-1")

    assert claimer.poll() == 1
    assert len(timer_decisions(store, "C-1")) == 1


def test_claimers_racing_fire_every_deadline_exactly_once(store: Store, policy: Policy) -> None:
    for n in range(30):
        promise(store, policy, case_id=f"C-{n}", event_id=f"e-{n}")
    fired: list[int] = []
    lock = threading.Lock()

    def record(item: Fired) -> None:
        with lock:
            fired.append(item.deadline.id)

    claimers = [
        Claimer(store, lambda: policy, on_fired=record, clock=at(CALLBACK_AT + timedelta(hours=1)))
        for _ in range(3)
    ]
    threads = [threading.Thread(target=c.poll) for c in claimers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with store.read() as conn:
        stored = (
            conn.execute(sa.select(events.c.event_id).where(events.c.type == "deadline_reached"))
            .scalars()
            .all()
        )
    assert len(fired) == len(set(fired)) == 60
    assert sorted(stored) == sorted(f"deadline:{i}" for i in fired)


def test_callers_may_not_post_timer_events() -> None:
    body = {"event_id": "x", "type": "deadline_reached", "occurred_at": START.isoformat()}

    with pytest.raises(ValidationError) as refused:
        CaseEventV1Schema().load(body)
    assert "type" in refused.value.messages
    with pytest.raises(ValidationError) as squatted:
        CaseEventV1Schema().load({**body, "type": "agent_reply", "event_id": "deadline:7"})
    assert "event_id" in squatted.value.messages
    # A rule test or a dry run may describe one.
    assert EventV1Schema().load(body).type == "deadline_reached"
