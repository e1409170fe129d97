"""Benchmark what masking costs: a decision-log record and a response under each policy.

    .venv/bin/python bench/masking.py [--events 5000]

Decides a mix of messages (threats with a phrase gap, supervisor demands,
plain messages) with the bundled rules once, then times building the
decision-log record under keep, hash, hashed with a key, and drop, and masking
the wire decision for a caller without text:read.  It prints microseconds per
decision for each, and how long finding the readable attributes of the rule
set takes (once per revision).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from schemas.api import DecisionV1Schema, EventV1Schema  # noqa: E402
from service import decide  # noqa: E402
from service.cases.model import Snapshot  # noqa: E402
from service.decision_log import record  # noqa: E402
from service.engine.readable import readable_of  # noqa: E402
from service.masking import TextPolicy, mask_decision  # noqa: E402
from service.policy import build_policy  # noqa: E402

TEXTS = [
    "I am coming to your shop tomorrow and smash every window.",
    "Get me your manager right now, this is a disgrace.",
    "My parcel has not arrived, order 4711, please check.",
    "Chcę rozmawiać z kierownikiem.",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000)
    args = parser.parse_args()
    policy = build_policy(ROOT / "rules")
    started = time.perf_counter()
    for _ in range(100):
        readable_of(policy.ruleset)
    readable_us = (time.perf_counter() - started) / 100 * 1e6
    readable = policy.readable
    schema, events = DecisionV1Schema(), EventV1Schema()
    pairs = []
    now = datetime.now(UTC)
    for i in range(args.events):
        raw = {
            "event_id": f"e-{i}",
            "type": "customer_message",
            "occurred_at": now.isoformat(),
            "channel": "chat",
            "text": TEXTS[i % len(TEXTS)],
            "attributes": {"complexity": 2, "limit": "time", "order_note": "ring twice"},
        }
        evaluation = decide.evaluate(policy, Snapshot(), events.load(raw), case_id="C-1")
        pairs.append((schema.dump(evaluation.decision), raw))

    def timed(label: str, run: object) -> None:
        assert callable(run)
        started = time.perf_counter()
        for wire, raw in pairs:
            run(wire, raw)
        took = time.perf_counter() - started
        print(f"{label:<34} {took / len(pairs) * 1e6:7.1f} us per decision")

    print(f"decisions: {len(pairs)}; readable attributes of the rule set: {readable_us:.0f} us")
    for policy_name, key in (("keep", None), ("hash", None), ("hash", b"k" * 32), ("drop", None)):
        text_policy = TextPolicy(policy_name)
        label = f"log record, {policy_name}" + (" (HMAC key)" if key else "")
        timed(
            label,
            lambda wire, raw, p=text_policy, k=key: record(
                wire,
                raw,
                caller="bench",
                customer_id=None,
                dry_run=False,
                policy=p,
                key=k,
                readable=readable,
            ),
        )
    timed("response without text:read", lambda wire, raw: mask_decision(wire, TextPolicy.HASH))


if __name__ == "__main__":
    main()
