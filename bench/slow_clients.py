"""Benchmark slow clients: latency of /healthz and events while N clients trickle.

    .venv/bin/python bench/slow_clients.py [--clients 64] [--seconds 20] [--old]

Starts the real server as `make serve` does (gunicorn -c gunicorn.conf.py
wsgi:app, 2 workers x ESCALATION_THREADS=4, SQLite, bundled rules) on a free
port. It first probes the idle server for a few seconds, then opens N
connections trickling headers and N trickling an events body (one byte every
0.5 s each) and, for --seconds, probes /healthz and POST /v1/cases/{id}/events
one after the other, each without retries and with a PROBE_TIMEOUT-second read
timeout. It prints p50/p99/max latency of the answered probes and how many got
no answer. --old runs gunicorn's gthread workers (ESCALATION_WORKER_CLASS=gthread),
the setup before uvicorn workers, for the before/after comparison.
It prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from tests.support.events import body  # noqa: E402
from tests.support.server import Server  # noqa: E402
from tests.support.trickle import Tricklers, summary  # noqa: E402

PROBE_TIMEOUT = 5.0
IDLE_SECONDS = 5.0


def probe(server: Server, seconds: float) -> dict[str, tuple[list[float], int]]:
    """Probe /healthz and an events POST in turn for ``seconds``; return latencies and misses."""
    results: dict[str, tuple[list[float], int]] = {"healthz": ([], 0), "events": ([], 0)}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for name in results:
            start = time.perf_counter()
            try:
                if name == "healthz":
                    response = requests.get(f"{server.url}/healthz", timeout=PROBE_TIMEOUT)
                else:
                    response = requests.post(
                        f"{server.url}/v1/cases/bench-1/events",
                        json=body(),
                        timeout=PROBE_TIMEOUT,
                    )
                ok = response.status_code in (200, 201)
            except requests.RequestException:
                ok = False
            latencies, misses = results[name]
            if ok:
                latencies.append(time.perf_counter() - start)
            else:
                results[name] = (latencies, misses + 1)
        time.sleep(0.1)
    return results


def report(title: str, results: dict[str, tuple[list[float], int]]) -> None:
    """Print one block of figures."""
    print(title)
    for name, (latencies, misses) in results.items():
        print(f"  {name:8} {summary(latencies)}  unanswered={misses}")


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--clients", type=int, default=64, help="header tricklers (and as many body tricklers)"
    )
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="how long to probe while they trickle"
    )
    parser.add_argument("--old", action="store_true", help="gunicorn gthread workers (before)")
    args = parser.parse_args()

    worker_class = "gthread" if args.old else "uvicorn"
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(
            Path(tmp) / "instance",
            ESCALATION_ACCESS_LOG="/dev/null",
            ESCALATION_WORKER_CLASS=worker_class,
        )
        with server:
            print(f"worker class {worker_class}: 2 workers x 4 threads, {server.url}")
            report(f"idle ({IDLE_SECONDS:g} s):", probe(server, IDLE_SECONDS))
            with Tricklers(server.port, headers=args.clients, bodies=args.clients) as tricklers:
                tricklers.wait_started(rounds=2)
                results = probe(server, args.seconds)
                rounds, closed = tricklers.rounds, tricklers.closed_by_server
            report(
                f"while {args.clients} clients trickle headers and {args.clients} bodies "
                f"({args.seconds:g} s, {rounds} bytes each, {closed} closed by the server):",
                results,
            )


if __name__ == "__main__":
    main()
