"""Rule sets past one durable ruleset's limits: 10,000 rules, partitioned and exact."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from service.engine.compiler import MAX_ENGINE_RULES
from service.policy import build_policy
from tests.factories import rules_dir
from tests.support import reference

TYPES = ["customer_message", "agent_note", "complaint_opened", "complaint_reopened", "case_closed"]
KINDS = {"event.type": "string", "event.attributes.topic": "string", "case.hostility": "number"}


def generated_rules(size: int) -> str:
    """Write ``size`` rules in groups of five sharing an event type and a topic."""
    lines = ["rules:"]
    for index in range(size):
        group = index // 5
        lines.append(
            f"""  - id: gen-{index}
    title: Generated rule {index}
    description: One of five rules sharing an event type and a topic.
    priority: {index % 100}
    when:
      all:
        - event.type: {TYPES[group % len(TYPES)]}
        - event.attributes.topic: topic-{group // len(TYPES)}
        - case.hostility: {{gte: {index % 5}}}
    then:
      route_to: queue-{group}
"""
        )
    return "\n".join(lines)


@pytest.mark.slow
def test_ten_thousand_rules_are_accepted_and_match_exactly(tmp_path: Path) -> None:
    root = rules_dir(tmp_path, {"generated.yaml": generated_rules(10_000)})

    policy = build_policy(root)

    compiled = policy.compiled
    assert compiled.stats["engine_rules"] == 10_000
    assert len(compiled.partitions) > 1
    assert all(len(p.definition) <= MAX_ENGINE_RULES for p in compiled.partitions)
    rng = random.Random(11)
    matched = 0
    for _ in range(300):
        group = rng.randrange(2_000 + 40)  # some topics no rule has
        facts = {
            "event.type": TYPES[group % len(TYPES)] if rng.random() < 0.95 else "unknown",
            "event.attributes.topic": f"topic-{group // len(TYPES)}",
            "case.hostility": rng.randrange(6),
        }
        if rng.random() < 0.1:
            del facts["event.attributes.topic"]
        expected = {
            r.id for r in policy.ruleset.rules if reference.evaluate(r.when, facts, KINDS)
        }
        found = policy.engine.match(facts)
        assert found == expected, facts
        matched += len(found)
    assert matched > 300  # most facts match several rules: the test reads real matches
    policy.engine.close()
