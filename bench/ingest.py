"""Benchmark event ingestion over HTTP against the real server under gunicorn.

    .venv/bin/python bench/ingest.py [--seconds 5] [--clients 16] [--backends sqlite postgres]

For each database it starts `gunicorn -c gunicorn.conf.py wsgi:app` with 2
workers, then measures with many concurrent keep-alive clients:

* GET /healthz, a trivial JSON endpoint served by the same configuration;
* POST /v1/cases/{id}/events spread over 100 cases (events/s, p50, p99);
* the cost of one more event on a case holding 10 events and on a case
  holding 10,000 events, one client at a time.

It prints figures and asserts nothing.  PostgreSQL runs in a throw-away
schema of the server at 127.0.0.1:5432 (TEST_POSTGRES_URL overrides it).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.databases import temporary_schema  # noqa: E402
from tests.support.keys import TEST_TOKEN, bearer  # noqa: E402
from tests.support.server import Server  # noqa: E402

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


class Client:
    """One keep-alive HTTP connection."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, payload: dict[str, object] | None = None) -> int:
        body = json.dumps(payload).encode() if payload is not None else None
        headers = bearer(TEST_TOKEN) | ({"Content-Type": "application/json"} if body else {})
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        response.read()
        return response.status


def event(
    case_id: str, n: int, text: str = "Hello, my order has not arrived yet."
) -> dict[str, object]:
    return {
        "event_id": f"{case_id}-{n}-{uuid.uuid4().hex[:8]}",
        "type": "customer_message",
        "occurred_at": "2026-11-22T10:00:00Z",
        "channel": "chat",
        "customer": {"id": f"cus-{case_id}"},
        "agent": {"id": "ag-1"},
        "text": text,
    }


def load(
    port: int, clients: int, seconds: float, call: Callable[[Client, int, int], int]
) -> dict[str, float]:
    """Run ``clients`` threads calling for ``seconds``; return rate and latency figures."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start = threading.Barrier(clients + 1)
    stop = threading.Event()

    def worker(index: int) -> None:
        client = Client(port)
        start.wait()
        n = 0
        while not stop.is_set():
            t0 = time.perf_counter()
            status = call(client, index, n)
            latencies[index].append((time.perf_counter() - t0) * 1000)
            errors[index] += status >= 300
            n += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    merged = [x for per in latencies for x in per]
    cuts = statistics.quantiles(merged, n=100)
    return {
        "rate": len(merged) / elapsed,
        "p50": cuts[49],
        "p99": cuts[98],
        "n": len(merged),
        "errors": sum(errors),
    }


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """Return the run with the median rate."""
    return sorted(runs, key=lambda r: r["rate"])[len(runs) // 2]


def history_cost(port: int, size: int, probes: int) -> float:
    """Fill a case with ``size`` events; return the p50 ms of ``probes`` more, sent one by one."""
    case_id = f"history-{size}-{uuid.uuid4().hex[:6]}"
    fillers = 8
    per = -(-size // fillers)

    def fill(index: int) -> None:
        client = Client(port)
        for n in range(index * per, min(size, (index + 1) * per)):
            client.request("POST", f"/v1/cases/{case_id}/events", event(case_id, n, "hi"))

    threads = [threading.Thread(target=fill, args=(i,)) for i in range(fillers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client = Client(port)
    samples = []
    for n in range(probes):
        t0 = time.perf_counter()
        client.request("POST", f"/v1/cases/{case_id}/events", event(case_id, size + n))
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


@contextmanager
def database(backend: str, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    with temporary_schema("bench") as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="time per load measurement")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--history", type=int, default=10_000, help="events in the long case")
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per load measurement; the median is shown"
    )
    args = parser.parse_args()

    rows = []
    for backend in args.backends:
        with tempfile.TemporaryDirectory() as tmp, database(backend, Path(tmp)) as url:
            instance = Path(tmp) / "instance"
            instance.mkdir()
            server = Server(
                instance, workers=2, DATABASE_URL=url, ESCALATION_ACCESS_LOG="/dev/null"
            ).start()
            try:
                trivials, ingests = [], []
                for _ in range(args.repeat):  # alternate, so drift hits both alike
                    trivials.append(
                        load(
                            server.port,
                            args.clients,
                            args.seconds,
                            lambda c, i, n: c.request("GET", "/healthz"),
                        )
                    )
                    ingests.append(
                        load(
                            server.port,
                            args.clients,
                            args.seconds,
                            lambda c, i, n: c.request(
                                "POST",
                                f"/v1/cases/B{(i * 7 + n) % 100}/events",
                                event(f"B{(i * 7 + n) % 100}", n),
                            ),
                        )
                    )
                trivial, ingest = median_run(trivials), median_run(ingests)
                small = history_cost(server.port, 10, 200)
                large = history_cost(server.port, args.history, 200)
            finally:
                server.stop()
        rows.append((backend, trivial, ingest, small, large))

    print(
        f"gunicorn: 2 workers x {os.environ.get('ESCALATION_THREADS', '4')} threads; "
        f"{args.clients} concurrent keep-alive clients; "
        f"median of {args.repeat} runs of {args.seconds:g} s; "
        f"{os.cpu_count()} cores shared by clients and server\n"
    )
    print(
        f"{'database':<9} {'endpoint':<28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
    )
    for backend, trivial, ingest, _, _ in rows:
        for name, figures in (
            ("GET /healthz (trivial JSON)", trivial),
            ("POST case event", ingest),
        ):
            print(
                f"{backend:<9} {name:<28} {figures['rate']:>9,.0f} {figures['p50']:>8.2f} "
                f"{figures['p99']:>8.2f} {figures['errors']:>7.0f}"
            )
        print(f"{backend:<9} {'ingest / trivial':<28} {ingest['rate'] / trivial['rate']:>9.2f}")
    print(
        f"\n{'database':<9} {'one more event, p50 ms':<28} "
        f"{'10 events':>10} {args.history:>10,} events"
    )
    for backend, _, _, small, large in rows:
        print(f"{backend:<9} {'':<28} {small:>10.2f} {large:>16.2f}")


if __name__ == "__main__":
    main()
