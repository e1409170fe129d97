"""Time the event write path in process: events posted through the Flask test client.

    PYTHONPATH=$PWD .venv/bin/python bench/event_path.py [--events 2000] [--rounds 3]
        [--backends sqlite postgres] [--profile 25]

For each database: a fresh application (SQLite file, or a throw-away schema on
the PostgreSQL server at 127.0.0.1:5432), then ``--rounds`` rounds of
``--events`` events spread over 100 cases with 20 customers and 5 agents, one
at a time.  Prints events/s, ms per event and the process's CPU ms per event
(steadier than wall time on a shared machine) per round and their medians;
``--profile N`` also prints the N costliest functions of one more round
(cProfile, cumulative time).  Run it with PYTHONPATH set to the checkout to
measure; it asserts nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask

from service.policy import build_policy
from tests.conftest import RULES, open_app
from tests.support.databases import temporary_schema


@contextmanager
def application(backend: str, folder: Path) -> Iterator[Flask]:
    """Yield an app on a fresh database of ``backend``."""
    policy = build_policy(RULES)
    if backend == "sqlite":
        yield from open_app(folder, policy, f"sqlite:///{folder / 'bench.db'}")
        return
    with temporary_schema("bench") as url:
        yield from open_app(folder, policy, url)


def post_round(app: Flask, events: int, tag: str) -> tuple[float, float]:
    """Post ``events`` events; return the seconds it took and the process's CPU seconds."""
    client = app.test_client()
    bodies = [
        {
            "event_id": f"{tag}-{n}",
            "type": "customer_message",
            "occurred_at": "2026-11-20T09:00:00+00:00",
            "channel": "chat",
            "text": "I have been waiting for a week, this is unacceptable.",
            "customer": {"id": f"cus-{n % 20}"},
            "agent": {"id": f"ag-{n % 5}"},
        }
        for n in range(events)
    ]
    started, cpu = time.perf_counter(), time.process_time()
    for n, body in enumerate(bodies):
        response = client.post(f"/v1/cases/C-{n % 100}/events", json=body)
        if response.status_code != 201:
            raise SystemExit(f"event {n}: {response.status_code} {response.get_data(as_text=True)}")
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--profile", type=int, default=0, help="print the N costliest functions")
    args = parser.parse_args()
    for backend in args.backends:
        with tempfile.TemporaryDirectory() as folder, application(backend, Path(folder)) as app:
            # Flag logged decisions in the background, as a server does (the
            # test configuration flags them in each request).
            outbox = app.extensions["escalation"].outbox
            outbox.start(1.0)
            client = app.test_client()
            for agent in range(5):
                client.put(f"/v1/agents/ag-{agent}", json={"skills": ["billing"]})
            post_round(app, 50, "warm")
            rates, cpus = [], []
            for round_ in range(args.rounds):
                took, cpu = post_round(app, args.events, f"r{round_}-{uuid.uuid4().hex[:6]}")
                rates.append(args.events / took)
                cpus.append(1000 * cpu / args.events)
                print(
                    f"{backend:8} round {round_ + 1}: {rates[-1]:7.0f} events/s "
                    f"{1000 / rates[-1]:6.2f} ms/event  {cpus[-1]:5.2f} ms CPU/event"
                )
            median, cpu_median = statistics.median(rates), statistics.median(cpus)
            print(
                f"{backend:8} median:  {median:7.0f} events/s {1000 / median:6.2f} ms/event  "
                f"{cpu_median:5.2f} ms CPU/event"
            )
            if args.profile:
                profiler = cProfile.Profile()
                profiler.enable()
                post_round(app, args.events, f"p-{uuid.uuid4().hex[:6]}")
                profiler.disable()
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(
                    args.profile
                )
                print(out.getvalue())
            outbox.stop()


if __name__ == "__main__":
    main()
