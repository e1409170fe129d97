"""The real service under gunicorn: concurrent events, and kill -9 under load.

Each test runs on SQLite and on PostgreSQL, with several worker processes, so
serialisation and durability are checked across processes, not threads.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from service.store.db import create_engine
from tests.support.databases import BACKENDS, database_url
from tests.support.events import at, body
from tests.support.server import Server

pytestmark = pytest.mark.slow


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_url(request.param, tmp_path, request)


@pytest.fixture
def server(tmp_path: Path, db: str) -> Iterator[Server]:
    instance = tmp_path / "instance"
    instance.mkdir()
    running = Server(
        instance, workers=4, DATABASE_URL=db, ESCALATION_ACCESS_LOG="/dev/null"
    ).start()
    yield running
    running.stop()


def test_200_concurrent_events_for_one_case_are_each_counted_once(server: Server) -> None:
    events = [
        body(event_id=f"msg-{i}", text=f"message {i}", occurred_at=at(i / 10)) for i in range(200)
    ]

    def send(event: dict[str, object]) -> int:
        with requests.Session() as session:
            return session.post(
                f"{server.url}/v1/cases/C-1/events", json=event, timeout=60
            ).status_code

    with ThreadPoolExecutor(max_workers=40) as pool:
        statuses = list(pool.map(send, events))

    assert statuses == [201] * 200
    case = requests.get(f"{server.url}/v1/cases/C-1", timeout=10).json()
    assert case["aggregates"]["messages"] == 200
    assert case["event_count"] == 200


def test_retries_racing_each_other_store_the_event_once(server: Server) -> None:
    event = body(event_id="raced", text="I will sue you")

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(
            pool.map(
                lambda _: requests.post(
                    f"{server.url}/v1/cases/C-2/events", json=event, timeout=60
                ),
                range(16),
            )
        )

    assert sorted(a.status_code for a in answers) == [200] * 15 + [201]
    assert len({a.json()["decision_id"] for a in answers}) == 1
    assert requests.get(f"{server.url}/v1/cases/C-2", timeout=10).json()["event_count"] == 1


def test_every_acknowledged_event_survives_kill_9(tmp_path: Path, db: str) -> None:
    instance = tmp_path / "instance"
    instance.mkdir()
    settings = {
        "DATABASE_URL": db,
        "ESCALATION_ACCESS_LOG": "/dev/null",
        "ESCALATION_DECISION_LOG_SETTLE_SECONDS": "0",
        "ESCALATION_DECISION_LOG_RECOVER_SECONDS": "0.5",
        "ESCALATION_DECISION_LOG_FLUSH_SECONDS": "0.5",
    }
    first = Server(instance, workers=2, **settings).start()
    acknowledged: dict[str, tuple[str, str, dict[str, object]]] = {}  # id -> case, decision, body
    failed: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def client(number: int) -> None:
        session = requests.Session()
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
                response = session.post(
                    f"{first.url}/v1/cases/{case_id}/events", json=event, timeout=10
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
    time.sleep(3)
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
    second = Server(instance, workers=2, **settings).start()
    try:
        # A client retrying an acknowledged event after the crash gets the same decision.
        case_id, decision_id, event = next(iter(acknowledged.values()))
        again = requests.post(f"{second.url}/v1/cases/{case_id}/events", json=event, timeout=10)
        assert again.status_code == 200
        assert again.json()["decision_id"] == decision_id
        assert again.json()["duplicate"] is True
        time.sleep(2)  # a recovery pass of the decision-log outbox
        log_file = instance / "decisions.jsonl"
        logged = {
            json.loads(line)["decision_id"] for line in log_file.read_text().splitlines() if line
        }
        assert {d for _, d, _ in acknowledged.values()} <= logged
    finally:
        second.stop()
