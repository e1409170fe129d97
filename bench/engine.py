"""Benchmark the decision engine in process: evaluations per second, p50 and p99 latency.

    .venv/bin/python bench/engine.py [--seconds 3]

Measures the durable-rules match alone for the bundled pack and for generated
packs of 10, 100 and 1,000 rules where 5 rules match each event, and the
whole decision (signals, state update, match, explanations, merge) for the
bundled pack.  It prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.cases.model import AgentProfile, CaseState, CustomerState, Event, Snapshot
from service.decide import evaluate, facts_of
from service.engine.compiler import compile_ruleset
from service.engine.durable_backend import DurableEngine
from service.engine.model import AllOf, Predicate, Rule, RuleSet, Then
from service.policy import build_policy

ROOT = Path(__file__).resolve().parent.parent
TYPES = [
    "customer_message",
    "agent_note",
    "complaint_opened",
    "complaint_reopened",
    "case_assigned",
    "callback_promised",
    "supervisor_requested",
    "agent_limit_reached",
    "complaint_resolved",
    "case_closed",
]
MATCHES_PER_EVENT = 5


def generated_pack(size: int) -> RuleSet:
    """Build ``size`` rules in groups of 5 sharing (event type, topic): a group matches together."""
    rules = []
    for index in range(size):
        group = index // MATCHES_PER_EVENT
        when = AllOf(
            (
                Predicate("event.type", "eq", TYPES[group % len(TYPES)]),
                Predicate("event.attributes.topic", "eq", f"topic-{group // len(TYPES)}"),
                Predicate("case.hostility", "gte", index % MATCHES_PER_EVENT),
            )
        )
        rules.append(
            Rule(
                id=f"g{index}",
                title="g",
                description="g",
                priority=index % 100,
                when=when,
                then=Then(route_to=f"queue-{group}"),
            )
        )
    return RuleSet(rules=tuple(rules), revision=f"sha256:bench-{size}")


def generated_facts(size: int, rng: random.Random) -> list[dict[str, Any]]:
    groups = max(1, size // MATCHES_PER_EVENT)
    facts = []
    for _ in range(1000):
        group = rng.randrange(groups)
        facts.append(
            {
                "event.type": TYPES[group % len(TYPES)],
                "event.attributes.topic": f"topic-{group // len(TYPES)}",
                "case.hostility": 4,
            }
        )
    return facts


def measure(call: Callable[[int], object], seconds: float) -> tuple[float, float, float, int]:
    """Call repeatedly for about ``seconds``; return (per second, p50 µs, p99 µs, calls)."""
    for i in range(200):  # warm up
        call(i)
    samples: list[float] = []
    started = time.perf_counter()
    i = 0
    while time.perf_counter() - started < seconds:
        t0 = time.perf_counter_ns()
        call(i)
        samples.append((time.perf_counter_ns() - t0) / 1000)
        i += 1
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(samples, n=100)
    return len(samples) / elapsed, cuts[49], cuts[98], len(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args()
    rng = random.Random(7)
    rows = []

    policy = build_policy(ROOT / "rules")
    snapshot = Snapshot(
        case=CaseState(case_id="C-1", hostility=2),
        customer=CustomerState(id="cus-1"),
        agent=AgentProfile(id="ag-1"),
    )
    texts = [
        "Hello, my order has not arrived.",
        "I want to speak to your manager!",
        "You are useless.",
        "I will sue your company.",
        "Could you resend the invoice please?",
    ]
    events = [
        Event(
            event_id=f"e{i}",
            type="customer_message",
            occurred_at=datetime(2026, 11, 22, tzinfo=UTC),
            channel="chat",
            text=texts[i % len(texts)],
        )
        for i in range(len(texts))
    ]
    pack_facts = [
        facts_of(snapshot, e, policy.detector.detect(e.text), policy.ruleset.defaults)
        for e in events
    ]
    matched = sum(len(policy.engine.match(f)) for f in pack_facts) / len(pack_facts)
    rows.append(
        (
            "bundled pack, engine match",
            len(policy.ruleset.rules),
            matched,
            *measure(lambda i: policy.engine.match(pack_facts[i % len(pack_facts)]), args.seconds),
        )
    )
    rows.append(
        (
            "bundled pack, whole decision",
            len(policy.ruleset.rules),
            matched,
            *measure(
                lambda i: evaluate(policy, snapshot, events[i % len(events)], case_id="C-1"),
                args.seconds,
            ),
        )
    )

    for size in (10, 100, 1000):
        compiled = compile_ruleset(generated_pack(size))
        engine = DurableEngine(compiled)
        facts = generated_facts(size, rng)
        hits = sum(len(engine.match(f)) for f in facts[:100]) / 100
        rows.append(
            (
                "generated pack, engine match",
                size,
                hits,
                *measure(lambda i, e=engine, f=facts: e.match(f[i % len(f)]), args.seconds),
            )
        )

    print(
        f"{'measurement':<30} {'rules':>6} {'matched':>8} {'eval/s':>10} "
        f"{'p50 µs':>9} {'p99 µs':>9} {'calls':>8}"
    )
    for name, rules, hits, rate, p50, p99, calls in rows:
        print(
            f"{name:<30} {rules:>6} {hits:>8.1f} {rate:>10,.0f} {p50:>9.1f} {p99:>9.1f} {calls:>8}"
        )


if __name__ == "__main__":
    main()
