"""Benchmark the request edge over HTTP: the service next to a bare Flask app, same server.

    .venv/bin/python bench/ingest.py [--seconds 5] [--clients 16] [--repeat 3]
        [--backends sqlite postgres] [--history 10000] [--baseline ../main]

Under the project's own ``gunicorn.conf.py`` (its worker class, 2 workers, its
threads) it starts:

* ``bench/bare_app.py``: parse a JSON body, answer 201 with a small JSON;
* the service on SQLite, and the service on PostgreSQL (a throw-away schema
  of the server at 127.0.0.1:5432; TEST_POSTGRES_URL overrides it),

and drives each with ``--clients`` concurrent keep-alive connections from an
asyncio load generator: ``POST /bare``; ``POST /v1/evaluate`` (the README's
example, on the SQLite server: it stores nothing); ``POST /v1/cases/{id}/events``
spread over 100 cases with unique event ids on each database.  Rounds are
interleaved (every endpoint once per round, so drift hits all alike) and the
median round of each is shown: req/s, p50, p99, the ratio to bare Flask, and
in how many rounds one worker served every connection alone (from the access
lines; such a round runs at about half speed, docs/deployment.md).

Next to them, the ceilings: the load generator's own (against a canned
asyncio responder, so the generator is shown not to be the bottleneck), a
plain insert-and-commit loop on SQLite with the service's settings (WAL,
synchronous=FULL, one row per commit), and psycopg with 8 threads on
PostgreSQL, one row per commit; events/s as a fraction of each.  With
``--history N`` (0 skips it), the cost of one more event on a case holding 10
and ``N`` events, one client at a time.  ``--baseline DIR`` also starts the
service of another checkout (e.g. a worktree of main) on its own databases and
runs its endpoints in the same rounds: on a shared machine, the only fair
before-and-after.  It prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import multiprocessing
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from tests.support.databases import temporary_schema  # noqa: E402
from tests.support.keys import TEST_TOKEN  # noqa: E402
from tests.support.server import Server  # noqa: E402

CASES = 100
MakeRequest = Callable[[int, int], bytes]  # (connection index, request number) -> request


# -- servers --------------------------------------------------------------------


class TreeServer(Server):
    """``app`` of the checkout at ``root``, under that checkout's gunicorn.conf.py."""

    def __init__(
        self, instance: Path, *, root: Path = ROOT, app: str = "wsgi:app", **kwargs: Any
    ) -> None:
        super().__init__(instance, workers=2, **kwargs)
        self.root, self.app = root, app
        self.env["PYTHONPATH"] = str(root)  # that checkout's code, not the editable install's

    def _spawn(self) -> None:
        self.env["ESCALATION_BIND"] = f"127.0.0.1:{self.port}"
        self._log = self.log_path.open("ab")
        self._log_start = self._log.tell()
        gunicorn = Path(sys.executable).parent / "gunicorn"
        self.proc = subprocess.Popen(
            [str(gunicorn), "-c", "gunicorn.conf.py", self.app],
            cwd=self.root,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            start_new_session=True,
        )


def _canned(sock: socket.socket) -> None:
    """Answer every request on ``sock`` with a fixed 201: the load generator's ceiling."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # forked: not the parent's clean-up
    answer = (
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
        b'Content-Length: 11\r\n\r\n{"ok":true}'
    )

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(_content_length(head))
                writer.write(answer)

    async def main() -> None:
        server = await asyncio.start_server(serve, sock=sock)
        await server.serve_forever()

    asyncio.run(main())


@contextmanager
def canned_responder() -> Iterator[int]:
    """Run the canned responder in another process; yield its port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    process = multiprocessing.get_context("fork").Process(target=_canned, args=(sock,))
    process.start()
    try:
        yield sock.getsockname()[1]
    finally:
        process.terminate()
        process.join()
        sock.close()


@contextmanager
def database(backend: str, workdir: Path) -> Iterator[str]:
    """Yield a fresh database URL: a file for SQLite, a throw-away schema on PostgreSQL."""
    if backend == "sqlite":
        yield f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        return
    with temporary_schema("bench") as url:
        yield url


# -- the load generator -----------------------------------------------------------


def _content_length(head: bytes) -> int:
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    end = lower.find(b"\r\n", at + 2)
    return int(lower[at + 17 : end])


async def _read_answer(reader: asyncio.StreamReader) -> int:
    """Read one response; return its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(_content_length(head))
    return int(head[9:12])


async def _drive(
    port: int, clients: int, seconds: float, make: MakeRequest
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(clients)]
    began = time.perf_counter()
    until = began + seconds

    async def run(index: int) -> None:
        nonlocal errors
        reader, writer = connections[index]
        n = 0
        while time.perf_counter() < until:
            data = make(index, n)
            n += 1
            t0 = time.perf_counter()
            writer.write(data)
            status = await _read_answer(reader)
            latencies.append((time.perf_counter() - t0) * 1000)
            errors += status >= 300

    await asyncio.gather(*(run(i) for i in range(clients)))
    elapsed = time.perf_counter() - began
    for _, writer in connections:
        writer.close()
    return latencies, errors, elapsed


def load(port: int, clients: int, seconds: float, make: MakeRequest) -> dict[str, float]:
    """Keep ``clients`` keep-alive connections busy for ``seconds``; return rate and latencies."""
    latencies, errors, elapsed = asyncio.run(_drive(port, clients, seconds, make))
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "rate": len(latencies) / elapsed,
        "p50": cuts[49],
        "p99": cuts[98],
        "n": len(latencies),
        "errors": errors,
    }


def served(server: Server) -> collections.Counter[int]:
    """Count the service's access lines in the server's log by worker pid (none for /bare)."""
    counts: collections.Counter[int] = collections.Counter()
    for line in server.log_tail(10**9).splitlines():
        if line.startswith("{") and '"service.access"' in line:
            counts[json.loads(line)["pid"]] += 1
    return counts


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """Return the run with the median rate."""
    return sorted(runs, key=lambda r: r["rate"])[len(runs) // 2]


def post(path: str, body: bytes, *, key: bool = True) -> bytes:
    """Return a keep-alive HTTP/1.1 JSON POST request."""
    auth = f"Authorization: Bearer {TEST_TOKEN}\r\n" if key else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


# -- what is sent -------------------------------------------------------------------

EVALUATE = {
    "case": {
        "case_id": "C-1",
        "hostility": 1,
        "agent": {
            "id": "ag-3",
            "limits": {"max_complexity": 3, "max_hostility": 3, "max_minutes": 30},
        },
    },
    "event": {
        "event_id": "evt-42",
        "type": "customer_message",
        "occurred_at": "",  # filled in: within a year of the server's clock
        "channel": "chat",
        "customer": {"id": "cus-7", "tier": "key_account"},
        "agent": {"id": "ag-3"},
        "text": "Third time I write about this bill. Get me your manager, now!",
        "attributes": {"topic": "billing"},
    },
}


def now_iso() -> str:
    """Return the current UTC time as the service accepts it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def bare_request() -> MakeRequest:
    """POST /bare with the evaluate example's event as the body."""
    data = post("/bare", json.dumps(EVALUATE["event"]).encode(), key=False)
    return lambda index, n: data


def evaluate_request() -> MakeRequest:
    """POST /v1/evaluate with the README's example."""
    payload = json.loads(json.dumps(EVALUATE))
    payload["event"]["occurred_at"] = now_iso()
    data = post("/v1/evaluate", json.dumps(payload).encode())
    return lambda index, n: data


def event_body(case_id: str, event_id: str, text: str, occurred_at: str) -> bytes:
    """Return a customer message of ``case_id`` as JSON."""
    return json.dumps(
        {
            "event_id": event_id,
            "type": "customer_message",
            "occurred_at": occurred_at,
            "channel": "chat",
            "customer": {"id": f"cus-{case_id}"},
            "agent": {"id": "ag-1"},
            "text": text,
        }
    ).encode()


def events_request() -> MakeRequest:
    """POST /v1/cases/{id}/events over 100 cases, a unique event id every time."""
    run = uuid.uuid4().hex[:8]
    occurred_at = now_iso()

    def make(index: int, n: int) -> bytes:
        case_id = f"B{(index * 7 + n) % CASES}"
        body = event_body(
            case_id, f"{run}-{index}-{n}", "Hello, my order has not arrived yet.", occurred_at
        )
        return post(f"/v1/cases/{case_id}/events", body)

    return make


# -- ceilings ------------------------------------------------------------------------


def sqlite_ceiling(workdir: Path, seconds: float) -> float:
    """Return commits/s of one-row transactions on SQLite in WAL mode with synchronous=FULL."""
    path = workdir / "ceiling.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    body = "x" * 600  # about an event and its decision
    commits = 0
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (body) VALUES (?)", (body,))
        conn.execute("COMMIT")
        commits += 1
    elapsed = time.perf_counter() - began
    conn.close()
    return commits / elapsed


def postgres_ceiling(url: str, seconds: float, threads: int = 8) -> float:
    """Return commits/s of one-row transactions from ``threads`` psycopg connections."""
    parsed = make_url(url)
    conninfo = psycopg.conninfo.make_conninfo(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        dbname=parsed.database or "test",
        options=str(parsed.query.get("options", "")),
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE TABLE ceiling (id bigserial PRIMARY KEY, body text NOT NULL)")
    body = "x" * 600
    counts = [0] * threads
    start = threading.Barrier(threads + 1)
    stop = threading.Event()

    def worker(index: int) -> None:
        with psycopg.connect(conninfo) as conn:
            start.wait()
            while not stop.is_set():
                conn.execute("INSERT INTO ceiling (body) VALUES (%s)", (body,))
                conn.commit()
                counts[index] += 1

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    start.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in workers:
        thread.join()
    return sum(counts) / (time.perf_counter() - began)


def history_cost(port: int, size: int, probes: int) -> float:
    """Fill a case with ``size`` events; return the p50 ms of ``probes`` more, sent one by one."""
    case_id = f"history-{size}-{uuid.uuid4().hex[:6]}"
    occurred_at = now_iso()

    def make(n: int, text: str) -> bytes:
        return post(
            f"/v1/cases/{case_id}/events",
            event_body(case_id, f"{case_id}-{n}", text, occurred_at),
        )

    async def fill() -> None:
        fillers = 8
        per = -(-size // fillers)

        async def one(index: int) -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            for n in range(index * per, min(size, (index + 1) * per)):
                writer.write(make(n, "hi"))
                await _read_answer(reader)
            writer.close()

        await asyncio.gather(*(one(i) for i in range(fillers)))

    async def probe() -> list[float]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        samples = []
        for n in range(probes):
            data = make(size + n, "Hello, my order has not arrived yet.")
            t0 = time.perf_counter()
            writer.write(data)
            await _read_answer(reader)
            samples.append((time.perf_counter() - t0) * 1000)
        writer.close()
        return samples

    asyncio.run(fill())
    return statistics.median(asyncio.run(probe()))


# -- the run ---------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="time per load measurement")
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections")
    parser.add_argument("--history", type=int, default=10_000, help="events in the long case")
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument(
        "--repeat", type=int, default=3, help="interleaved rounds; the median is shown"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout (e.g. a worktree of main) whose service runs in the same rounds",
    )
    args = parser.parse_args()
    # Stopped from outside, still stop the servers and drop the schema on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))

    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        servers: dict[str, Server] = {}
        trees = {"": ROOT} | ({" baseline": args.baseline.resolve()} if args.baseline else {})

        def start(name: str, server: Server) -> None:
            stack.callback(server.stop)
            servers[name] = server.start()

        start("bare", TreeServer(tmp / "bare", app="bench.bare_app:app"))
        urls: dict[str, str] = {}
        for tree, root in trees.items():
            for backend in args.backends:
                name = f"{backend}{tree}"
                urls[name] = stack.enter_context(database(backend, tmp))
                start(name, TreeServer(tmp / name, root=root, database_url=urls[name]))
        evaluate_on = args.backends[0]

        # (label, server, request maker); every round runs each once, in this order.
        endpoints: list[tuple[str, str, Callable[[], MakeRequest]]] = [
            ("POST /bare (bare Flask)", "bare", bare_request)
        ]
        for tree in trees:
            endpoints += [
                (f"POST /v1/evaluate ({evaluate_on}{tree})", evaluate_on + tree, evaluate_request)
            ] + [(f"POST case event ({b}{tree})", b + tree, events_request) for b in args.backends]
        runs: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in endpoints}
        ceilings: list[float] = []
        with canned_responder() as canned_port:
            for _ in range(args.repeat):
                ceilings.append(
                    load(canned_port, args.clients, args.seconds, bare_request())["rate"]
                )
                for label, name, maker in endpoints:
                    before = served(servers[name])
                    run = load(servers[name].port, args.clients, args.seconds, maker())
                    # A round whose connections all went to one worker (docs/deployment.md).
                    run["alone"] = float(len(served(servers[name]) - before) == 1)
                    runs[label].append(run)
        history = {
            backend: (
                history_cost(servers[backend].port, 10, 200),
                history_cost(servers[backend].port, args.history, 200),
            )
            for backend in args.backends
            if args.history
        }
        db_ceiling: dict[str, float] = {}
        for backend in args.backends:
            db_ceiling[backend] = (
                sqlite_ceiling(tmp, args.seconds)
                if backend == "sqlite"
                else postgres_ceiling(urls[backend], args.seconds)
            )

    shown = {label: median_run(r) for label, r in runs.items()}
    base = shown[endpoints[0][0]]["rate"]
    print(
        f"gunicorn.conf.py: 2 workers x {os.environ.get('ESCALATION_THREADS', '4')} threads "
        f"(uvicorn worker, a2wsgi); {args.clients} concurrent keep-alive connections; "
        f"median of {args.repeat} interleaved rounds of {args.seconds:g} s; "
        f"{os.cpu_count()} cores shared by the load generator and the servers\n"
    )
    print(
        f"{'endpoint':<38} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'/ bare':>7}"
        f"  rounds one worker served alone"
    )
    for label, figures in shown.items():
        alone = sum(bool(r["alone"]) for r in runs[label])
        print(
            f"{label:<38} {figures['rate']:>8,.0f} {figures['p50']:>8.2f} "
            f"{figures['p99']:>8.2f} {figures['errors']:>7.0f} {figures['rate'] / base:>7.2f}"
            f"  {'-' if label == endpoints[0][0] else f'{alone} of {len(runs[label])}'}"
        )
    print(
        f"\nload generator ceiling (canned asyncio responder, same request as /bare): "
        f"{statistics.median(ceilings):,.0f} req/s"
    )
    print(f"\n{'database ceiling':<53} {'commits/s':>10} {'events/s':>9} {'fraction':>9}")
    for backend in args.backends:
        how = (
            "SQLite WAL, synchronous=FULL, 1 row/commit"
            if backend == "sqlite"
            else "psycopg, 8 threads, 1 row/commit"
        )
        for tree in (" baseline",) * bool(args.baseline) + ("",):
            events = shown[f"POST case event ({backend}{tree})"]["rate"]
            print(
                f"{how + tree:<53} {db_ceiling[backend]:>10,.0f} {events:>9,.0f} "
                f"{events / db_ceiling[backend]:>9.2f}"
            )
    if history:
        print(f"\n{'one more event, p50 ms':<30} {'10 events':>10} {args.history:>10,} events")
        for backend, (small, large) in history.items():
            print(f"{backend:<30} {small:>10.2f} {large:>17.2f}")


if __name__ == "__main__":
    main()
