"""Benchmark the timer claimer: poll cost with 1,000 and 1,000,000 open deadlines.

    .venv/bin/python bench/timers.py [--sizes 1000 1000000] [--backends sqlite postgres]

For each backend and size it builds a fresh database (SQLite under the
temporary directory, PostgreSQL in a throw-away schema of the server at
127.0.0.1:5432; TEST_POSTGRES_URL overrides it), fills it with that many
pending deadlines due in the future, and prints:

* an idle poll: the claimer's query when nothing is due (what every worker
  runs every TIMER_POLL_SECONDS), p50 and p99 over 200 polls;
* a busy poll: 100 deadlines fall due among the open ones, and one poll
  fires them all through the rules (time per deadline).

The (state, due_at) index keeps both flat however many deadlines are open.
It prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from schemas.api import EventV1Schema  # noqa: E402
from service.claimer import Claimer  # noqa: E402
from service.ingest import ingest  # noqa: E402
from service.policy import Policy, build_policy  # noqa: E402
from service.store.db import create_engine, migrate  # noqa: E402
from service.store.repository import Store  # noqa: E402

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
NOW = datetime.now(UTC).replace(microsecond=0)
DUE = 100
IDLE_POLLS = 200


def fill(engine: sa.Engine, size: int) -> None:
    """Insert ``size`` pending deadlines due over the next year, in bulk, in SQL."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO cases (case_id, state, event_count, created_at, updated_at) "
                "VALUES ('BENCH', '{}', 0, :now, :now)"
            ),
            {"now": NOW},
        )
        columns = (
            "case_id, timer_id, kind, due_at, state, started_by, rules_revision, "
            "created_at, updated_at"
        )
        if engine.dialect.name == "postgresql":
            conn.execute(
                sa.text(
                    f"INSERT INTO deadlines ({columns}) "
                    "SELECT 'BENCH', 'case-inactive', 'breach', "
                    ":now + make_interval(secs => 3600 + n * 30), 'pending', 'e-' || n, "
                    "'sha256:bench', :now, :now FROM generate_series(1, :size) AS n"
                ),
                {"now": NOW, "size": size},
            )
        else:
            conn.execute(
                sa.text(
                    "WITH RECURSIVE n(i) AS "
                    "(SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :size) "
                    f"INSERT INTO deadlines ({columns}) "
                    "SELECT 'BENCH', 'case-inactive', 'breach', "
                    "strftime('%Y-%m-%d %H:%M:%f', :start, '+' || (3600 + i * 30) || ' seconds'), "
                    "'pending', 'e-' || i, 'sha256:bench', :now, :now FROM n"
                ),
                {"now": NOW, "size": size, "start": NOW.strftime("%Y-%m-%d %H:%M:%S")},
            )
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE deadlines")


def promise_due(store: Store, policy: Policy) -> None:
    """Store DUE call-backs promised for a minute ago: their reminders are due now."""
    loader = EventV1Schema()
    for n in range(DUE):
        raw = {
            "event_id": f"promise-{n}",
            "type": "callback_promised",
            "occurred_at": (NOW - timedelta(hours=1)).isoformat(),
            "channel": "phone",
            "attributes": {"callback_at": (NOW - timedelta(minutes=1)).isoformat()},
        }
        ingest(store, policy, f"C-{n}", loader.load(raw), raw)


def measure(url: str, size: int, policy: Policy, label: str) -> None:
    engine = create_engine(url)
    try:
        migrate(engine, Path(tempfile.gettempdir()) / f"bench-timers-{uuid.uuid4().hex}.lock")
        store = Store(engine)
        started = time.perf_counter()
        fill(engine, size)
        filled = time.perf_counter() - started
        claimer = Claimer(store, lambda: policy, clock=lambda: NOW)
        idle = []
        for _ in range(IDLE_POLLS):
            began = time.perf_counter()
            claimer.poll()
            idle.append((time.perf_counter() - began) * 1000)
        promise_due(store, policy)
        began = time.perf_counter()
        fired = claimer.poll()
        busy = (time.perf_counter() - began) * 1000
        idle.sort()
        print(
            f"{label:10} {size:>9,} open  (filled in {filled:5.1f} s)  "
            f"idle poll p50 {statistics.median(idle):6.2f} ms  "
            f"p99 {idle[int(len(idle) * 0.99) - 1]:6.2f} ms  "
            f"busy poll: {fired} fired in {busy:7.1f} ms ({busy / max(fired, 1):5.2f} ms each)",
            flush=True,
        )
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 1_000_000])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    args = parser.parse_args()
    policy = build_policy(ROOT / "rules")
    for backend in args.backends:
        for size in args.sizes:
            if backend == "sqlite":
                with tempfile.TemporaryDirectory() as folder:
                    measure(f"sqlite:///{folder}/timers.db", size, policy, backend)
            else:
                schema = f"bench_{uuid.uuid4().hex[:12]}"
                admin = sa.create_engine(POSTGRES_URL)
                with admin.begin() as conn:
                    conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
                try:
                    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
                    measure(url, size, policy, backend)
                finally:
                    with admin.begin() as conn:
                        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
                    admin.dispose()


if __name__ == "__main__":
    main()
