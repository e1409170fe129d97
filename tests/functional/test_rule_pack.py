"""The bundled rule pack, checked by its own rule tests (rules/tests/*.yaml)."""

from __future__ import annotations

import pytest

from service.policy import Policy, build_policy
from service.ruletests import RuleTest, load_tests, run
from tests.conftest import RULES

POLICY = build_policy(RULES)
TESTS = load_tests(RULES, frozenset(POLICY.ruleset.by_id))


@pytest.mark.parametrize("case", TESTS, ids=[f"{t.location} {t.name}" for t in TESTS])
def test_rule_test(case: RuleTest) -> None:
    failures = run(POLICY, case)
    assert not failures, f"{case.location}: {case.name}\n" + "\n".join(failures)


@pytest.mark.parametrize("rule_id", sorted(POLICY.ruleset.by_id))
def test_every_rule_has_a_test_where_it_fires_and_a_near_miss(rule_id: str) -> None:
    fires = [t for t in TESTS if rule_id in t.expect["fires"]]
    misses = [t for t in TESTS if rule_id in t.expect["does_not_fire"]]

    assert fires, f"no rule test shows {rule_id} firing"
    assert misses, f"no rule test shows a near miss for {rule_id}"


def test_every_rule_explains_itself(policy: Policy) -> None:
    for rule in policy.ruleset.rules:
        assert rule.title, rule.id
        assert rule.description, rule.id
        assert rule.then.guidance, f"{rule.id} gives the agent no guidance"
