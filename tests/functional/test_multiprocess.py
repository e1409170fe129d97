"""The real service under gunicorn: concurrent events, and kill -9 under load.

Each test runs on SQLite and on PostgreSQL, with several worker processes, so
serialisation and durability are checked across processes, not threads.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from service.store.db import create_engine
from tests.support.databases import BACKENDS, database_url
from tests.support.events import at, body
from tests.support.http import call
from tests.support.keys import TEST_TOKEN, bearer
from tests.support.server import Server
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_url(request.param, tmp_path, request)


@pytest.fixture
def server(tmp_path: Path, db: str) -> Iterator[Server]:
    with Server(
        tmp_path / "instance", workers=4, database_url=db, ESCALATION_ACCESS_LOG="/dev/null"
    ) as running:
        yield running


def test_200_concurrent_events_for_one_case_are_each_counted_once(server: Server) -> None:
    events = [
        body(event_id=f"msg-{i}", text=f"message {i}", occurred_at=at(i / 10)) for i in range(200)
    ]
    client = server.client

    def send(event: dict[str, object]) -> int:
        return client.post("/v1/cases/C-1/events", json=event).status_code

    with ThreadPoolExecutor(max_workers=40) as pool:
        statuses = list(pool.map(send, events))

    # A retry after a lost answer finds its event stored: 200, a duplicate.
    assert statuses.count(201) >= 200 - len(client.retried)
    assert set(statuses) <= {200, 201}
    case = client.get("/v1/cases/C-1").json()
    assert case["aggregates"]["messages"] == 200
    assert case["event_count"] == 200


def test_retries_racing_each_other_store_the_event_once(server: Server) -> None:
    event = body(event_id="raced", text="I will sue you")

    client = server.client

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: client.post("/v1/cases/C-2/events", json=event), range(16)))

    # Exactly one 201, unless the request that stored it lost its answer and was retried.
    assert sorted(a.status_code for a in answers) in (
        [200] * 15 + [201],
        *([[200] * 16] if client.retried else []),
    )
    assert len({a.json()["decision_id"] for a in answers}) == 1
    assert client.get("/v1/cases/C-2").json()["event_count"] == 1


def test_every_acknowledged_event_survives_kill_9(tmp_path: Path, db: str) -> None:
    instance = tmp_path / "instance"
    settings = {
        "ESCALATION_ACCESS_LOG": "/dev/null",
        "ESCALATION_DECISION_LOG_SETTLE_SECONDS": "0",
        "ESCALATION_DECISION_LOG_RECOVER_SECONDS": "0.5",
        "ESCALATION_DECISION_LOG_FLUSH_SECONDS": "0.5",
    }
    first = Server(instance, workers=2, database_url=db, **settings).start()
    acknowledged: dict[str, tuple[str, str, dict[str, object]]] = {}  # id -> case, decision, body
    failed: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def client(number: int) -> None:
        sent = 0
        while not stop.is_set():
            case_id = f"K-{(number + sent) % 10}"
            event = body(
                event_id=f"k-{number}-{sent}",
                text="I want to speak to your manager" if sent % 7 == 0 else "hello",
                customer={"id": f"cus-{case_id}"},
                occurred_at=at(sent),
            )
            sent += 1
            try:
                # Not retried: after the kill every request fails, and only 2xx count.
                response = call(
                    "POST",
                    f"{first.url}/v1/cases/{case_id}/events",
                    json=event,
                    retry=False,
                    headers=bearer(TEST_TOKEN),
                )
            except requests.RequestException:
                with lock:
                    failed.append(event["event_id"])
                continue
            if response.ok:
                with lock:
                    acknowledged[event["event_id"]] = (
                        case_id,
                        response.json()["decision_id"],
                        event,
                    )

    threads = [threading.Thread(target=client, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    # Kill it under load, once enough events are acknowledged to mean something.
    wait_until(
        lambda: len(acknowledged) > 60, timeout=180, message="too little load to mean anything"
    )
    first.kill9()
    stop.set()
    for thread in threads:
        thread.join()
    assert len(acknowledged) > 50, "too little load to mean anything"
    print(f"acknowledged {len(acknowledged)}, failed {len(failed)}")

    engine = create_engine(db)
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.text("SELECT event_id, decision_id FROM events")).all())
        counts = dict(conn.execute(sa.text("SELECT case_id, event_count FROM cases")).all())
        per_case = dict(
            conn.execute(sa.text("SELECT case_id, count(*) FROM events GROUP BY case_id")).all()
        )
        states = dict(conn.execute(sa.text("SELECT case_id, state FROM cases")).all())
    engine.dispose()

    # Every 2xx is there, with the decision that was returned.
    assert {e: stored.get(e) for e in acknowledged} == {
        e: d for e, (_, d, _) in acknowledged.items()
    }
    # Nothing half-stored: each case's counters match its stored events exactly.
    assert counts == per_case
    for case_id, state in states.items():
        state = json.loads(state) if isinstance(state, str) else state
        assert state["messages"] == per_case[case_id]

    # After a restart the service answers, and the decision log catches up.
    with Server(instance, workers=2, database_url=db, **settings) as second:
        # A client retrying an acknowledged event after the crash gets the same decision.
        case_id, decision_id, event = next(iter(acknowledged.values()))
        again = second.client.post(f"/v1/cases/{case_id}/events", json=event)
        assert again.status_code == 200
        assert again.json()["decision_id"] == decision_id
        assert again.json()["duplicate"] is True

        log_file = instance / "decisions.jsonl"
        expected = {d for _, d, _ in acknowledged.values()}

        def logged() -> set[str]:
            text = log_file.read_text() if log_file.exists() else ""
            complete = text.split("\n")[:-1]  # the last line may be half-written still
            return {json.loads(line)["decision_id"] for line in complete if line}

        # The recovery pass of the decision-log outbox runs every 0.5 s.
        wait_until(
            lambda: expected <= logged(),
            message=lambda: f"{len(expected - logged())} decisions missing from the log",
        )
