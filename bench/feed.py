"""Benchmark the decision feed and the text purge: write-path statements, page times, purge rate.

    PYTHONPATH=$PWD .venv/bin/python bench/feed.py [--rows 50000] [--backend postgres]

Posts a few events through the app (counting the SQL statements each one
runs), copies the last stored row ``--rows`` times (1,000 rows per
transaction), then times pages of GET /v1/decisions (oldest first from the
start, from the middle, newest first; 50 and 1,000 per page), and finally
purges the text of every row with the clock moved past the retention.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from service import create_app  # noqa: E402
from service.policy import build_policy  # noqa: E402
from service.retention import purge  # noqa: E402
from service.store.schema import events  # noqa: E402
from tests.support.databases import temporary_schema  # noqa: E402

START = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


@contextmanager
def database(backend: str, folder: Path) -> Iterator[str]:
    """Yield a database URL for ``backend``."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    with temporary_schema("bench") as url:
        yield url


def timed(call: Callable[[], Any], runs: int) -> float:
    """Return the median wall time of ``runs`` calls, in milliseconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="postgres")
    args = parser.parse_args()
    clock_now = [START]
    with tempfile.TemporaryDirectory() as tmp, database(args.backend, Path(tmp)) as url:
        app = create_app(
            {
                "INSTANCE_PATH": str(Path(tmp) / "instance"),
                "DECISION_LOG": str(Path(tmp) / "decisions.jsonl"),
                "DATABASE_URL": url,
                "TIMER_POLL_SECONDS": 0,
                "TEXT_PURGE_SECONDS": 0,
                "WEBHOOK_SEND_SECONDS": 0,
                "DECISION_LOG_FLUSH_SECONDS": 0,
            },
            policy=build_policy(ROOT / "rules"),
            clock=lambda: clock_now[0],
        )
        store = app.extensions["escalation"].store
        client = app.test_client()
        statements: list[str] = []

        def count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            statements.append(statement)

        sa.event.listen(store.engine, "before_cursor_execute", count)
        per_event = []
        for n in range(20):
            statements.clear()
            client.post(
                "/v1/cases/B-1/events",
                json={
                    "event_id": f"warm-{n}",
                    "type": "customer_message",
                    "occurred_at": START.isoformat(),
                    "channel": "chat",
                    "customer": {"id": "cus-1"},
                    "text": "I will sue you over this parcel",
                },
            )
            per_event.append(len(statements))
        sa.event.remove(store.engine, "before_cursor_execute", count)
        print(
            f"{args.backend}: SQL statements per posted event (median of 20): "
            f"{statistics.median(per_event):g}"
        )

        with store.read() as conn:
            last = conn.execute(sa.select(events).order_by(events.c.seq.desc())).first()
            assert last is not None
            template = dict(last._mapping)
        for column in ("seq", "txid", "purged_at", "kept_signals"):
            template.pop(column)
        started = time.perf_counter()
        for first in range(0, args.rows, 1000):
            with store.write() as conn:
                conn.execute(
                    events.insert(),
                    [
                        {**template, "event_id": f"copy-{i}", "decision_id": str(uuid.uuid4())}
                        for i in range(first, min(first + 1000, args.rows))
                    ],
                )
        print(f"copied {args.rows:,} rows in {time.perf_counter() - started:.1f} s")

        def page(query: str) -> dict[str, Any]:
            response = client.get(f"/v1/decisions?{query}")
            assert response.status_code == 200
            body: dict[str, Any] = response.get_json()
            return body

        middle = page(f"limit=1000&after={args.rows // 2}")["next_after"]
        for limit in (50, 1000):
            for name, query in (
                ("oldest first, from the start", f"limit={limit}"),
                ("oldest first, from the middle", f"limit={limit}&after={middle}"),
                ("newest first", f"limit={limit}&order=desc"),
                ("newest first, from the middle", f"limit={limit}&order=desc&after={middle}"),
                ("one customer, oldest first", f"limit={limit}&customer_id=cus-1"),
            ):
                median = timed(lambda q=query: page(q), 15)  # type: ignore[misc]
                print(f"  page of {limit:>4}, {name:32} {median:8.1f} ms")

        clock_now[0] = START + timedelta(days=31)
        started = time.perf_counter()
        purged = purge(store, clock_now[0], timedelta(days=30))
        took = time.perf_counter() - started
        print(f"purged the text of {purged:,} events in {took:.1f} s ({purged / took:,.0f}/s)")
        started = time.perf_counter()
        purge(store, clock_now[0], timedelta(days=30))
        idle = (time.perf_counter() - started) * 1000
        print(f"a purge pass with nothing left to purge: {idle:.1f} ms")
        app.extensions["escalation"].policies.stop()
        store.engine.dispose()


if __name__ == "__main__":
    main()
