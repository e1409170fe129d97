"""Benchmark the decision engine in process: evaluations per second, p50 and p99 latency.

    .venv/bin/python bench/engine.py [--seconds 3]

Measures the durable-rules match alone for the bundled pack and for generated
packs of 10, 100, 1,000 and 10,000 rules where 5 rules match each event, and
the whole decision (signals, state update, match, explanations, merge) for the
bundled pack.  Next to each match it runs the same compiled conditions in
GoRules' zen-engine (a benchmark-only dependency: `pip install zen-engine`),
as one decision table (hit policy "collect", one row per engine rule) served
through its loader, and prints the ratio.  It prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.cases.model import AgentProfile, CaseState, CustomerState, Event, Snapshot
from service.decide import evaluate, facts_of
from service.engine.compiler import EVICT_RULE, MARKER, CompiledRuleSet, compile_ruleset
from service.engine.durable_backend import DurableEngine
from service.engine.facts import engine_fact
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


_ZEN_OPS = {"$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">=", "$neq": "!="}


def _zen_cell(op: str, value: object) -> str:
    if isinstance(value, dict):  # {"$m": key}: another field of the fact
        return f"$ {op} {value['$m']}"
    return f"$ {op} {json.dumps(value, ensure_ascii=False)}"


def zen_table(compiled: CompiledRuleSet) -> str:
    """Return the compiled conditions as a JDM decision table: one row per engine rule."""
    rows: list[dict[str, str]] = []
    columns: set[str] = set()
    for name, spec in compiled.definition.items():
        if name == EVICT_RULE:
            continue
        cells: dict[str, list[str]] = {}
        for lit in spec["all"][0]["m"]["$and"]:  # type: ignore[index]
            if MARKER in lit:
                continue
            (key, body), = lit.items()
            if key in _ZEN_OPS:
                (field, value), = body.items()
                cells.setdefault(field, []).append(_zen_cell(_ZEN_OPS[key], value))
            else:
                cells.setdefault(key, []).append(_zen_cell("==", body))
        columns.update(cells)
        row = {k: " and ".join(v) for k, v in cells.items()}
        row.update({"_id": name, "rule": json.dumps(compiled.engine_rules[name])})
        rows.append(row)
    inputs = [{"id": c, "name": c, "field": c} for c in sorted(columns)]
    for row in rows:
        for c in columns:
            row.setdefault(c, "")
    position = {"x": 0, "y": 0}
    return json.dumps(
        {
            "nodes": [
                {"id": "in", "type": "inputNode", "name": "in", "position": position},
                {
                    "id": "table",
                    "type": "decisionTableNode",
                    "name": "rules",
                    "position": position,
                    "content": {
                        "hitPolicy": "collect",
                        "inputs": inputs,
                        "outputs": [{"id": "rule", "name": "rule", "field": "rule"}],
                        "rules": rows,
                    },
                },
                {"id": "out", "type": "outputNode", "name": "out", "position": position},
            ],
            "edges": [
                {"id": "e1", "sourceId": "in", "targetId": "table", "type": "edge"},
                {"id": "e2", "sourceId": "table", "targetId": "out", "type": "edge"},
            ],
        }
    )


def zen_match(compiled: CompiledRuleSet) -> Callable[[dict[str, Any]], set[str]] | None:
    """Return a matcher running ``compiled`` in zen-engine, or None when it is not installed."""
    try:
        import zen  # type: ignore[import-not-found]
    except ImportError:
        return None
    table = zen_table(compiled)
    decision = zen.ZenEngine({"loader": lambda key: table}).get_decision("rules")

    def match(facts: dict[str, Any]) -> set[str]:
        fact = engine_fact(compiled, facts, "s")
        return {row["rule"] for row in decision.evaluate(fact)["result"]}

    return match


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
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10, 100, 1000, 10000], help="generated packs"
    )
    parser.add_argument(
        "--zen-max", type=int, default=10000, help="largest pack also run in zen-engine"
    )
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
    zen_bundled = zen_match(policy.compiled)
    if zen_bundled is not None:
        agree = all(zen_bundled(f) == set(policy.engine.match(f)) for f in pack_facts)
        rows.append(
            (
                f"bundled pack, zen-engine{'' if agree else ' (DISAGREES)'}",
                len(policy.ruleset.rules),
                matched,
                *measure(lambda i: zen_bundled(pack_facts[i % len(pack_facts)]), args.seconds),
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

    for size in args.sizes:
        compiled = compile_ruleset(generated_pack(size))
        engine = DurableEngine(compiled)
        facts = generated_facts(size, rng)
        hits = sum(len(engine.match(f)) for f in facts[:100]) / 100
        rows.append(
            (
                f"generated, ours ({compiled.stats['partitions']} part.)",
                size,
                hits,
                *measure(lambda i, e=engine, f=facts: e.match(f[i % len(f)]), args.seconds),
            )
        )
        zen = zen_match(compiled) if size <= args.zen_max else None
        if zen is not None:
            agree = all(zen(f) == set(engine.match(f)) for f in facts[:100])
            rows.append(
                (
                    f"generated, zen-engine{'' if agree else ' (DISAGREES)'}",
                    size,
                    hits,
                    *measure(lambda i, z=zen, f=facts: z(f[i % len(f)]), args.seconds),
                )
            )
        engine.close()

    print(
        f"{'measurement':<34} {'rules':>6} {'matched':>8} {'eval/s':>10} "
        f"{'p50 µs':>9} {'p99 µs':>9} {'calls':>8}"
    )
    for name, rules, hits, rate, p50, p99, calls in rows:
        print(
            f"{name:<34} {rules:>6} {hits:>8.1f} {rate:>10,.0f} {p50:>9.1f} {p99:>9.1f} {calls:>8}"
        )
    ours = {r[1]: r for r in rows if r[0].startswith("generated, ours")}
    zens = {r[1]: r for r in rows if r[0].startswith("generated, zen")}
    smallest = min(ours)
    print()
    header = f"ours p50 / ours p50 at {smallest}"
    print(f"{'rules':>6} {header:>28} {'zen p50 / ours p50':>20}")
    for size, row in sorted(ours.items()):
        zen_ratio = f"{zens[size][4] / row[4]:.2f}" if size in zens else "-"
        print(f"{size:>6} {row[4] / ours[smallest][4]:>28.2f} {zen_ratio:>20}")


if __name__ == "__main__":
    main()
