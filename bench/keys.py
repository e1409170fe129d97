"""What API keys cost a request: the access check, with and without its once-a-second refresh.

    .venv/bin/python bench/keys.py [--keys 1000] [--requests 5000]

Prints figures; asserts nothing.  The check is the before_request hook of
service/api/auth.py: parse the header, hash the token, look it up (and, once
a second, ask the database whether keys changed).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service import create_app  # noqa: E402
from service.api import auth  # noqa: E402
from service.keys import hash_token, new_token  # noqa: E402
from service.store import keys as rows  # noqa: E402


def timed(call: object, count: int) -> list[float]:
    """Return the microseconds of ``count`` calls of ``call``."""
    samples = []
    for _ in range(count):
        t0 = time.perf_counter()
        call()  # type: ignore[operator]
        samples.append((time.perf_counter() - t0) * 1e6)
    return samples


def show(label: str, samples: list[float]) -> None:
    cuts = statistics.quantiles(samples, n=100)
    print(f"{label:<48} p50 {cuts[49]:8.1f} µs   p99 {cuts[98]:8.1f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=1000, help="keys in the database")
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "INSTANCE_PATH": tmp,
                "DECISION_LOG": str(Path(tmp) / "d.jsonl"),
                "TIMER_POLL_SECONDS": 0,
                "WEBHOOK_SEND_SECONDS": 0,
            }
        )
        services = app.extensions["escalation"]
        token = new_token()
        now = datetime.now(UTC)
        with services.store.write() as conn:
            rows.insert(conn, "bench", ["decisions:read"], hash_token(token), now)
            for n in range(args.keys - 1):
                rows.insert(conn, f"k{n}", ["events:write"], hash_token(new_token()), now)
        services.keys.refresh()
        header = {"Authorization": f"Bearer {token}"}
        print(f"{args.keys} keys, {args.requests} requests, SQLite, in process")

        with app.test_request_context("/v1/rules", headers=header):
            app.preprocess_request()  # routes the request, so url_rule is set
            show("access check (refresh not due)", timed(auth.authenticate, args.requests))

            def stale() -> None:
                services.keys._checked = float("-inf")
                auth.authenticate()

            show("access check with the 1 s version query", timed(stale, args.requests // 10))

        services.policies.stop()
        services.decision_log.close()
        services.store.engine.dispose()


if __name__ == "__main__":
    main()
