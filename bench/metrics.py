"""Benchmark what observability costs: the rate query, a scrape, a decision-log write.

    .venv/bin/python bench/metrics.py [--events 10000 100000] [--backends sqlite postgres]

* the escalation-rate query of every scrape (``repo.escalation_counts``) with
  N events stored in the last hour (and as many older ones), median of 20;
* a whole in-process ``GET /metrics`` (Flask test client), median of 20;
* one decision-log write with its rotation check (a ``stat`` and an
  ``fstat``), against the two system calls alone, per call.

It prints figures and asserts nothing.  PostgreSQL runs in a throw-away
schema of the server at 127.0.0.1:5432 (TEST_POSTGRES_URL overrides it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from service.store import repository as repo  # noqa: E402
from service.store.db import create_engine, migrate  # noqa: E402
from service.store.repository import Store  # noqa: E402
from service.store.schema import cases, events  # noqa: E402
from tests.support.databases import temporary_schema  # noqa: E402

NOW = datetime.now(UTC)


def median_ms(run: Callable[[], object], times: int = 20) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


@contextmanager
def database(backend: str, folder: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    with temporary_schema("bench") as url:
        yield url


def fill(store: Store, count: int) -> None:
    """Store ``count`` events in the last hour and as many in the day before (1 in 10 escalate)."""
    with store.write() as conn:
        conn.execute(
            sa.insert(cases),
            [{"case_id": "B-1", "state": {}, "created_at": NOW, "updated_at": NOW}],
        )
        rows = []
        for i in range(2 * count):
            older = 0 if i < count else 7200
            received = NOW - timedelta(seconds=(i % count) * 3600 / count + older)
            rows.append(
                {
                    "event_id": f"b-{i}",
                    "case_id": "B-1",
                    "body_hash": "0" * 64,
                    "type": "customer_message",
                    "occurred_at": received,
                    "received_at": received,
                    "event": {},
                    "decision_id": str(uuid.uuid4()),
                    "decision": {},
                    "outcome": "escalate" if i % 10 == 0 else "none",
                    "rules_revision": "sha256:bench",
                    "logged": True,
                }
            )
            if len(rows) == 5000:
                conn.execute(sa.insert(events), rows)
                rows = []
        if rows:
            conn.execute(sa.insert(events), rows)


def rate_query(backend: str, count: int) -> None:
    with tempfile.TemporaryDirectory() as folder, database(backend, Path(folder)) as url:
        engine = create_engine(url)
        migrate(engine, Path(folder) / "migrate.lock")
        store = Store(engine)
        fill(store, count)

        def query() -> tuple[int, int]:
            with store.read() as conn:
                return repo.escalation_counts(conn, NOW - timedelta(hours=1))

        found = query()
        print(
            f"{backend:8} {count:>7} events in the hour: rate query {median_ms(query):7.2f} ms "
            f"(counted {found[0]}, {found[1]} escalated)"
        )
        engine.dispose()


def scrape() -> None:
    from service import create_app
    from tests.factories import wire_event

    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "INSTANCE_PATH": folder,
                "DECISION_LOG": os.path.join(folder, "d.jsonl"),
                "TIMER_POLL_SECONDS": 0,
                "DECISION_LOG_FLUSH_SECONDS": 0,
                "LOG_LEVEL": "WARNING",
            }
        )
        client = app.test_client()
        for i in range(50):
            client.post(f"/v1/cases/S-{i}/events", json=wire_event(event_id=f"s-{i}"))
        size = len(client.get("/metrics").data)
        took = median_ms(lambda: client.get("/metrics"))
        print(f"GET /metrics in process: {took:.2f} ms, {size} bytes")
        app.extensions["escalation"].policies.stop()
        app.extensions["webhook_sender"].stop()


def decision_log_write() -> None:
    from service.decision_log import DecisionLog

    entry = {"decision_id": str(uuid.uuid4()), "input": {"text": "x" * 200}, "n": 0}
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "d.jsonl")
        log = DecisionLog(path)
        n = 20000
        started = time.perf_counter()
        for _ in range(n):
            log.write(entry)
        per_write = (time.perf_counter() - started) / n * 1e6
        fd = os.open(path, os.O_RDONLY)
        started = time.perf_counter()
        for _ in range(n):
            os.stat(path)
            os.fstat(fd)
        per_check = (time.perf_counter() - started) / n * 1e6
        os.close(fd)
        log.close()
    print(
        f"decision-log write: {per_write:.1f} us per line, "
        f"of which the rotation check {per_check:.1f} us"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    args = parser.parse_args()
    for backend in args.backends:
        for count in args.events:
            rate_query(backend, count)
    scrape()
    decision_log_write()


if __name__ == "__main__":
    main()
