"""Show how the workers share a burst of keep-alive connections, round by round.

    PYTHONPATH=$PWD .venv/bin/python bench/balance.py [--rounds 6] [--seconds 5]
        [--endpoints evaluate events] [--root DIR]

Starts the service of the checkout at ``--root`` (this one by default) on
SQLite under its own ``gunicorn.conf.py`` (2 workers), then for each endpoint
runs ``--rounds`` rounds of bench/ingest.py's load generator: 16 keep-alive
connections opened at once, kept busy for ``--seconds``.  Per round it prints
req/s, p50 and p99, how busy the machine's CPUs were, and how many requests
each worker answered (from the access lines of the server's log).  A round
served by one worker alone shows one pid, about half the req/s and the CPUs
little more than half busy.  It prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import (  # noqa: E402
    TreeServer,
    database,
    evaluate_request,
    events_request,
    load,
    served,
)

MAKERS = {"evaluate": evaluate_request, "events": events_request}


def cpu_times() -> tuple[int, int]:
    """Return (all, idle) jiffies of every CPU since boot."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    return sum(values), values[3] + values[4]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--endpoints", nargs="+", choices=sorted(MAKERS), default=sorted(MAKERS))
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose server runs")
    args = parser.parse_args()
    alone = 0
    for endpoint in args.endpoints:
        with contextlib.ExitStack() as stack:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            url = stack.enter_context(database("sqlite", tmp))
            server = TreeServer(tmp / "service", root=args.root.resolve(), database_url=url)
            stack.callback(server.stop)
            server.start()
            load(server.port, 16, 2, MAKERS[endpoint]())  # warm up both workers
            print(f"{endpoint} on {args.root.resolve()}")
            for number in range(1, args.rounds + 1):
                before, (total0, idle0) = served(server), cpu_times()
                result = load(server.port, 16, args.seconds, MAKERS[endpoint]())
                (total1, idle1), counts = cpu_times(), served(server) - before
                busy = 100 * (1 - (idle1 - idle0) / max(total1 - total0, 1))
                alone += len(counts) == 1
                shares = " / ".join(f"{n:,}" for _, n in counts.most_common())
                print(
                    f"  round {number}: {result['rate']:7,.0f} req/s  p50 {result['p50']:6.1f} ms"
                    f"  p99 {result['p99']:6.1f} ms  CPUs {busy:3.0f}% busy"
                    f"  requests per worker: {shares}"
                )
    print(f"rounds served by one worker alone: {alone} of {args.rounds * len(args.endpoints)}")


if __name__ == "__main__":
    main()
