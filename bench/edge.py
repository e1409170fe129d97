"""Measure the request edge in process: what one request costs without a server or network.

    .venv/bin/python bench/edge.py [--requests 2000] [--repeat 5] [--profile 25] 2>/dev/null

Through Flask's test client, on a SQLite file, it times ``POST /bare`` of
bench/bare_app.py, ``POST /v1/evaluate`` (the README's example) and ``POST
/v1/cases/{id}/events`` (100 cases, unique event ids): the median over
``--repeat`` rounds of ms per request.  ``--profile N`` then profiles each
service endpoint with cProfile and prints its N most expensive functions by
own time, and the share of the total spent under Flask/Werkzeug, marshmallow,
json/orjson, the engine and the signals.  It prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import sys
import tempfile
import time
import timeit
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402

from bench.bare_app import app as bare_app  # noqa: E402
from bench.ingest import EVALUATE, event_body, now_iso  # noqa: E402
from schemas.common import _pairs, strict_json  # noqa: E402
from schemas.common import _reject_constant as _reject  # noqa: E402
from service import create_app, jsonwire  # noqa: E402
from service.policy import build_policy  # noqa: E402
from tests.support.keys import authorize  # noqa: E402

Call = Callable[[int], int]
JSON = {"Content-Type": "application/json"}
# Where the time goes, by the file a function lives in (first match wins).
GROUPS = (
    ("flask/werkzeug", ("/flask/", "/werkzeug/")),
    ("marshmallow", ("/marshmallow/",)),
    ("json", ("/json/", "orjson")),
    ("engine", ("/service/engine/", "durable", "/rules.py")),
    ("signals", ("/service/signals/", "re2")),
    ("sqlalchemy/db", ("/sqlalchemy/", "sqlite3", "/service/store/")),
    ("logging", ("/logging/", "structlog", "/service/logs.py", "prometheus")),
)


def calls(tmp: Path) -> tuple[dict[str, Call], Flask]:
    """Return one request per endpoint, each taking a request number and returning the status."""
    app = create_app(
        {
            "INSTANCE_PATH": str(tmp / "instance"),
            "DECISION_LOG": str(tmp / "decisions.jsonl"),
            "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
            # Periodic work off, so it does not count against requests; the decision
            # log's outbox keeps its production setting (flags in batches, not per event).
            "TIMER_POLL_SECONDS": 0,
            "WEBHOOK_SEND_SECONDS": 0,
            "TEXT_PURGE_SECONDS": 0,
        },
        policy=build_policy(ROOT / "rules"),
    )
    authorize(app)
    client: FlaskClient = app.test_client()
    bare: FlaskClient = bare_app.test_client()
    payload = json.loads(json.dumps(EVALUATE))
    payload["event"]["occurred_at"] = now_iso()
    evaluate = json.dumps(payload).encode()
    bare_body = json.dumps(payload["event"]).encode()
    run = uuid.uuid4().hex[:8]
    occurred_at = now_iso()
    headers = JSON

    def event(n: int) -> int:
        case_id = f"B{n % 100}"
        body = event_body(
            case_id, f"{run}-{n}", "Hello, my order has not arrived yet.", occurred_at
        )
        return client.post(f"/v1/cases/{case_id}/events", data=body, headers=headers).status_code

    return {
        "POST /bare (bare Flask)": lambda n: (
            bare.post("/bare", data=bare_body, headers=headers).status_code
        ),
        "POST /v1/evaluate": lambda n: (
            client.post("/v1/evaluate", data=evaluate, headers=headers).status_code
        ),
        "POST case event (sqlite)": event,
    }, app


def json_costs(tmp: Path, app: Flask) -> None:
    """Print µs per call of json and of orjson (service/jsonwire.py) on the evaluate example.

    The three documents the edge handles: the body, the answer, the decision-log line.
    """
    payload = json.loads(json.dumps(EVALUATE))
    payload["event"]["occurred_at"] = now_iso()
    raw = json.dumps(payload).encode()
    answer = app.test_client().post("/v1/evaluate", data=raw, headers=JSON).get_json()
    record = json.loads((tmp / "decisions.jsonl").read_text().splitlines()[-1])
    flask = app.json
    pairs = [
        ("parse the body", lambda: strict_json_stdlib(raw), lambda: strict_json(raw)),
        (
            "write the answer",
            lambda: flask.dumps(answer, separators=(",", ":")),
            lambda: jsonwire.dumps(answer, flask.default),
        ),
        (
            "write the log line",
            lambda: json.dumps(record, ensure_ascii=False, default=str).encode(),
            lambda: jsonwire.dumps(record, str),
        ),
    ]
    print(f"\n{'JSON, µs per call':<28} {'json':>8} {'orjson':>8}")
    for name, slow, fast in pairs:
        costs = [min(timeit.repeat(f, number=2000, repeat=5)) / 2000 * 1e6 for f in (slow, fast)]
        print(f"{name:<28} {costs[0]:>8.1f} {costs[1]:>8.1f}")


def strict_json_stdlib(raw: bytes) -> object:
    """Parse as strict_json does when orjson steps aside (service/jsonwire.Unsure)."""
    return json.loads(raw.decode("utf-8-sig"), object_pairs_hook=_pairs, parse_constant=_reject)


def timed(call: Call, start: int, requests: int) -> tuple[float, float]:
    """Return wall-clock and CPU ms per request over ``requests`` calls.

    CPU time (this process's) is what the edge costs whatever else the machine
    runs; wall-clock time adds the waits, fsync above all, and any contention.
    """
    t0, c0 = time.perf_counter(), time.process_time()
    for n in range(start, start + requests):
        status = call(n)
        if status >= 300:
            raise SystemExit(f"request {n} answered {status}")
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return wall * 1000 / requests, cpu * 1000 / requests


def profile(name: str, call: Call, start: int, requests: int, top: int) -> None:
    """Print the ``top`` functions by own time and the share of each group."""
    profiler = cProfile.Profile()
    profiler.enable()
    for n in range(start, start + requests):
        call(n)
    profiler.disable()
    stats = pstats.Stats(profiler)
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values())
    shares = dict.fromkeys([g for g, _ in GROUPS] + ["other"], 0.0)
    for (filename, _, _), entry in raw.items():
        group = next((g for g, marks in GROUPS if any(m in filename for m in marks)), "other")
        shares[group] += entry[2]
    print(f"\n== {name}: {total * 1000 / requests:.3f} ms per request under cProfile")
    print("   " + ", ".join(f"{g} {s / total:.0%}" for g, s in shares.items()))
    stats.sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the median is shown")
    parser.add_argument("--profile", type=int, default=0, help="functions shown per profile")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        endpoints, app = calls(Path(tmp))
        offset = 0
        for call in endpoints.values():  # warm up: first-use caches, the case rows
            timed(call, offset, 200)
        offset += 200
        rounds: dict[str, list[tuple[float, float]]] = {name: [] for name in endpoints}
        for _ in range(args.repeat):
            for name, call in endpoints.items():
                rounds[name].append(timed(call, offset, args.requests))
            offset += args.requests
        wall = {name: statistics.median(w for w, _ in r) for name, r in rounds.items()}
        cpu = {name: statistics.median(c for _, c in r) for name, r in rounds.items()}
        bare = "POST /bare (bare Flask)"
        print(f"median of {args.repeat} interleaved rounds of {args.requests} requests")
        print(f"{'endpoint':<28} {'wall ms':>8} {'CPU ms':>8} {'CPU / bare':>10}")
        for name in rounds:
            print(f"{name:<28} {wall[name]:>8.3f} {cpu[name]:>8.3f} {cpu[name] / cpu[bare]:>10.2f}")
        with app.app_context():
            json_costs(Path(tmp), app)
        if args.profile:
            for name, call in endpoints.items():
                if "bare" not in name:
                    profile(name, call, offset, args.requests, args.profile)
                    offset += args.requests


if __name__ == "__main__":
    main()
