"""Benchmark the /ops page's data endpoints on a database holding many decisions.

    .venv/bin/python bench/ops.py [--events 100000] [--backend sqlite|postgres] [--rounds 7]

Stores one real decision through the API, then copies it into ``--events``
rows spread evenly over the last 7 days (one case per 10 events, 5% of them
escalating and 10% routed, each matching one of three rules), and times each endpoint
the page reads through the test client: the median and the slowest of
``--rounds`` calls, in milliseconds.  Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service import create_app  # noqa: E402
from service.store.schema import cases, decision_rules, events  # noqa: E402
from tests.support.databases import temporary_schema  # noqa: E402

ENDPOINTS = (
    "/v1/stats/escalations?window=24h&bucket=1h",
    "/v1/stats/escalations?window=7d&bucket=1h",
    "/v1/stats/escalations?window=7d&bucket=1d",
    "/v1/decisions/latest?limit=25",
    "/v1/decisions/latest?limit=25&case_id=B-42",
    "/v1/timers?due_within=24h",
    "/v1/webhook-deliveries?status=failing",
)
BATCH = 5000
# One decision in 20 escalates, two in 20 route, the rest change nothing.
OUTCOMES = ("escalate", "route", "route", *("none",) * 17)


def fill(engine: sa.Engine, template: dict[str, object], count: int, now: datetime) -> None:
    """Store ``count`` copies of one stored event, spread over the last 7 days."""
    step = timedelta(days=7) / count
    with engine.begin() as conn:
        conn.execute(
            cases.insert(),
            [
                {
                    "case_id": f"B-{n}",
                    "state": {},
                    "event_count": 10,
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(count // 10 + 1)
            ],
        )
    rules = ("customer-demands-supervisor", "anger-first", "legal-threat")
    for start in range(0, count, BATCH):
        rows, matched = [], []
        for n in range(start, min(start + BATCH, count)):
            rows.append(
                {
                    **template,
                    "seq": n + 10,
                    "event_id": f"bench-{n}",
                    "decision_id": f"00000000-0000-0000-0000-{n:012d}",
                    "case_id": f"B-{n // 10}",
                    "customer_id": f"cus-{n % 997}",
                    "received_at": now - timedelta(days=7) + n * step,
                    "outcome": OUTCOMES[n % 20],
                }
            )
            matched.append({"seq": n + 10, "rule_id": rules[n % 3]})
        with engine.begin() as conn:
            conn.execute(events.insert(), rows)
            conn.execute(decision_rules.insert(), matched)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = (
            stack.enter_context(temporary_schema("bench"))
            if args.backend == "postgres"
            else f"sqlite:///{folder / 'bench.db'}"
        )
        app = create_app(
            {
                "INSTANCE_PATH": str(folder / "instance"),
                "DATABASE_URL": url,
                "DECISION_LOG": str(folder / "decisions.jsonl"),
                "DECISION_LOG_FLUSH_SECONDS": 0,
                "TIMER_POLL_SECONDS": 0,
                "WEBHOOK_SEND_SECONDS": 0,
            }
        )
        client = app.test_client()
        now = datetime.now(UTC)
        posted = client.post(
            "/v1/cases/seed/events",
            json={
                "event_id": "seed",
                "type": "customer_message",
                "occurred_at": now.isoformat(),
                "channel": "chat",
                "customer": {"id": "cus-seed"},
                "text": "I want to speak to your manager now.",
            },
        )
        assert posted.status_code == 201, posted.get_json()
        engine = app.extensions["escalation"].store.engine
        with engine.connect() as conn:
            stored = conn.execute(sa.select(events).where(events.c.event_id == "seed")).one()
        template = {k: v for k, v in stored._mapping.items() if k != "seq"}
        started = time.perf_counter()
        fill(engine, template, args.events, now)
        if args.backend == "postgres":
            with engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        print(
            f"{args.backend}: {args.events} decisions over 7 days stored in "
            f"{time.perf_counter() - started:.1f} s"
        )
        print(f"{'endpoint':<48} {'median ms':>10} {'max ms':>8}")
        for path in ENDPOINTS:
            took = []
            for _ in range(args.rounds):
                begun = time.perf_counter()
                answer = client.get(path)
                took.append((time.perf_counter() - begun) * 1000)
                assert answer.status_code == 200, answer.get_json()
            print(f"{path:<48} {statistics.median(took):>10.1f} {max(took):>8.1f}")
        app.extensions["escalation"].policies.stop()
        engine.dispose()


if __name__ == "__main__":
    main()
