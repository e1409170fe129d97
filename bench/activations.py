"""Benchmark activation storms: memory, event latency and errors while revisions alternate.

    .venv/bin/python bench/activations.py [--activations 400] [--cache 4] [--backend sqlite]

Starts `gunicorn -c gunicorn.conf.py wsgi:app` (2 workers x 4 threads), keeps
four clients posting case events, and activates two revisions in turn (the
bundled rules and a copy with one threshold raised) through
POST /v1/rules/activate, forced past the guard so every call activates.
It prints the growth of the workers' resident memory, event p50/p99, the
errors seen, and how often each worker served each revision.  ``--cache 1``
makes every activation rebuild the engine in every worker, the worst case
(then workers recycle after ESCALATION_RULES_MAX_BUILDS builds).
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.ruleset.bundle import Bundle  # noqa: E402
from tests.support.databases import temporary_schema  # noqa: E402
from tests.support.keys import TEST_TOKEN, bearer  # noqa: E402
from tests.support.server import Server  # noqa: E402


def worker_rss(master: int) -> int:
    """Return the summed resident memory of a gunicorn master's workers, in bytes."""
    total = 0
    for task in Path(f"/proc/{master}/task").iterdir():
        for child in (task / "children").read_text().split():
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def call(port: int, method: str, path: str, body: object | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        headers = bearer(TEST_TOKEN) | ({"Content-Type": "application/json"} if payload else {})
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def raised_bundle() -> dict[str, str]:
    files = Bundle.from_directory(ROOT / "rules").as_text()
    files["limits.yaml"] = files["limits.yaml"].replace(
        "case.complexity: {gt: agent.limits.max_complexity}", "case.complexity: {gt: 9}"
    )
    return files


def run(server: Server, activations: int, warmup: float, warm_activations: int = 20) -> None:
    port = server.port
    stop = threading.Event()
    latencies: list[float] = []
    errors: list[str] = []

    def post_events(client: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            case = f"C-{client}-{n % 50}"
            event = {
                "event_id": f"{case}-{n}-{uuid.uuid4().hex[:6]}",
                "type": "customer_message",
                "occurred_at": "2026-11-22T10:00:00Z",
                "channel": "chat",
                "customer": {"id": f"cus-{client}-{n % 50}"},
                "agent": {"id": "ag-1"},
                "text": "Where is my parcel? I want to talk to your manager.",
                "attributes": {"complexity": n % 5},
            }
            started = time.perf_counter()
            try:
                status, _ = call(port, "POST", f"/v1/cases/{case}/events", event)
                if status != 201:
                    errors.append(f"event answered {status}")
            except OSError as exc:
                errors.append(f"event failed: {exc}")
            latencies.append(time.perf_counter() - started)

    status, body = call(port, "GET", "/v1/rules")
    original = json.loads(body)["revision"]
    first = {"files": raised_bundle(), "force": True}
    status, body = call(port, "POST", "/v1/rules/activate", first)
    raised = json.loads(body)["revision"]
    clients = [threading.Thread(target=post_events, args=(i,)) for i in range(4)]
    for thread in clients:
        thread.start()
    # Warm up with traffic under both revisions: each worker builds both once
    # and the phrase caches of both fill, so what follows measures activations.
    for turn in range(warm_activations):
        again = {"revision": (original, raised)[turn % 2], "force": True}
        call(port, "POST", "/v1/rules/activate", again)
        time.sleep(warmup / max(1, warm_activations))
    latencies.clear()
    before = worker_rss(server.proc.pid)  # type: ignore[union-attr]
    checkpoints = []
    started = time.monotonic()
    for turn in range(activations):
        revision = (original, raised)[turn % 2]
        again = {"revision": revision, "force": True}
        status, body = call(port, "POST", "/v1/rules/activate", again)
        if status != 200:
            errors.append(f"activation answered {status}: {body[:200]!r}")
        if (turn + 1) % 100 == 0:
            checkpoints.append((turn + 1, worker_rss(server.proc.pid)))  # type: ignore[union-attr]
    took = time.monotonic() - started
    time.sleep(3)
    stop.set()
    for thread in clients:
        thread.join()
    after = worker_rss(server.proc.pid)  # type: ignore[union-attr]
    ordered = sorted(latencies)
    print(f"activations: {activations} in {took:.1f} s ({activations / took:.1f}/s)")
    print(f"worker memory: {before / 2**20:.1f} MB -> {after / 2**20:.1f} MB "
          f"(growth {(after - before) / 2**20:+.1f} MB, both workers together)")
    for done, rss in checkpoints:
        print(f"  after {done} activations: {rss / 2**20:.1f} MB")
    print(f"events: {len(ordered)}, p50 {statistics.median(ordered) * 1000:.1f} ms, "
          f"p99 {ordered[int(len(ordered) * 0.99)] * 1000:.1f} ms, "
          f"max {ordered[-1] * 1000:.1f} ms")
    print(f"errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activations", type=int, default=400)
    parser.add_argument("--cache", type=int, default=4, help="revisions kept built per worker")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--warmup", type=float, default=20, help="seconds of traffic first")
    args = parser.parse_args()
    settings = {
        "ESCALATION_RULES_CACHE_SIZE": str(args.cache),
        "ESCALATION_GUARD_MAX_EVENTS": "200",
        "ESCALATION_DECISION_LOG_FLUSH_SECONDS": "1",
    }
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend == "postgres":
            with (
                temporary_schema("bench") as url,
                Server(Path(tmp), workers=2, DATABASE_URL=url, **settings) as server,
            ):
                run(server, args.activations, args.warmup)
        else:
            with Server(Path(tmp), workers=2, **settings) as server:
                run(server, args.activations, args.warmup)


if __name__ == "__main__":
    main()
