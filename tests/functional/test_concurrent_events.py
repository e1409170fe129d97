"""Events posted at once on one customer's cases lose no update; a racing retry gets one answer.

On SQLite events are decided outside the writer lock and written in groups:
an event whose case or customer changed after it was read must be decided
again, so that no update is lost.  On PostgreSQL the row locks order them.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from service import decide
from service.store.schema import cases, customers
from tests.support.events import at, body

THREADS = 4
EACH = 12


def post_all(app: Flask, bodies: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """Post each (case, body) from its own thread, all released at once; return the responses."""
    start = threading.Barrier(len(bodies))
    answers: list[Any] = [None] * len(bodies)

    def post(n: int, case_id: str, event: dict[str, Any]) -> None:
        client = app.test_client()
        start.wait(timeout=60)
        answers[n] = client.post(f"/v1/cases/{case_id}/events", json=event)

    threads = [
        threading.Thread(target=post, args=(n, case_id, event))
        for n, (case_id, event) in enumerate(bodies)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return answers


def test_complaints_opened_at_once_on_one_customers_cases_are_all_counted(
    backend_app: Flask,
) -> None:
    def worker(t: int) -> list[tuple[str, dict[str, Any]]]:
        return [
            (
                f"C-{(t + n) % 3}",
                body(
                    event_id=f"e-{t}-{n}",
                    type="complaint_opened",
                    occurred_at=at(n),
                    customer={"id": "cus-shared"},
                ),
            )
            for n in range(EACH)
        ]

    results: list[Any] = []
    done = threading.Barrier(THREADS + 1)

    def run(t: int) -> None:
        client = backend_app.test_client()
        for case_id, event in worker(t):
            results.append(client.post(f"/v1/cases/{case_id}/events", json=event))
        done.wait(timeout=600)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    done.wait(timeout=600)

    assert [r.status_code for r in results] == [201] * THREADS * EACH
    engine = backend_app.extensions["escalation"].store.engine
    with engine.connect() as conn:
        counts = conn.execute(sa.select(cases.c.event_count, cases.c.state)).all()
        unresolved = conn.execute(
            sa.select(customers.c.unresolved_complaints).where(
                customers.c.customer_id == "cus-shared"
            )
        ).scalar_one()
    assert sum(c.event_count for c in counts) == THREADS * EACH
    assert all(c.state["open_complaints"] == c.event_count for c in counts)
    assert unresolved == THREADS * EACH


def test_one_event_sent_many_times_at_once_is_stored_once_with_one_decision(
    backend_app: Flask,
) -> None:
    event = body(event_id="e-same", customer={"id": "cus-1"})
    answers = post_all(backend_app, [("C-1", event)] * 6)

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 5 + [201]
    assert len({a.get_json()["decision_id"] for a in answers}) == 1
    case = backend_app.test_client().get("/v1/cases/C-1").get_json()
    assert case["event_count"] == 1


def test_an_event_whose_state_did_not_change_is_decided_once(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    decided: list[str] = []
    evaluate = decide.evaluate

    def counted(*args: Any, **kwargs: Any) -> Any:
        decided.append(args[2].event_id)
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(decide, "evaluate", counted)
    client = app.test_client()
    assert client.put("/v1/agents/ag-1", json={"skills": ["billing"]}).status_code == 201
    for n in range(3):
        event = body(event_id=f"e-{n}", occurred_at=at(n), customer={"id": "cus-1"})
        assert client.post("/v1/cases/C-1/events", json=event).status_code == 201

    # Read, decided, then found unchanged under the writer lock: not decided again.
    assert decided == ["e-0", "e-1", "e-2"]


@pytest.mark.parametrize("change", ["case", "customer"])
def test_an_event_whose_case_or_customer_changed_after_its_read_is_decided_again(
    app: Flask, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    decided: list[str] = []
    evaluate = decide.evaluate
    client = app.test_client()

    def counted(*args: Any, **kwargs: Any) -> Any:
        event_id = args[2].event_id
        decided.append(event_id)
        if event_id == "e-late" and decided.count("e-late") == 1:
            # Between the read and the writer lock: another complaint of the
            # same customer, on the same case or on another one, is stored.
            case_id = "C-1" if change == "case" else "C-2"
            other = body(
                event_id="e-between",
                type="complaint_opened",
                occurred_at=at(1),
                customer={"id": "cus-1"},
            )
            assert client.post(f"/v1/cases/{case_id}/events", json=other).status_code == 201
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(decide, "evaluate", counted)
    late = body(
        event_id="e-late", type="complaint_opened", occurred_at=at(2), customer={"id": "cus-1"}
    )
    assert client.post("/v1/cases/C-1/events", json=late).status_code == 201

    # Found changed under the writer lock: decided again, from the state that includes the other.
    assert decided == ["e-late", "e-between", "e-late"]
    engine = app.extensions["escalation"].store.engine
    with engine.connect() as conn:
        unresolved = conn.execute(
            sa.select(customers.c.unresolved_complaints).where(customers.c.customer_id == "cus-1")
        ).scalar_one()
    assert unresolved == 2
