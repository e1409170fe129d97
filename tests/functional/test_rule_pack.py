"""The bundled rule pack, checked by its own rule tests (rules/tests/*.yaml)."""

from __future__ import annotations

import pytest

from service.lint import ERROR, coverage, lint_directory
from service.policy import Policy, build_policy
from service.ruletests import RuleTest, load_tests, run
from tests.conftest import RULES

POLICY = build_policy(RULES)
TESTS = load_tests(RULES, frozenset(POLICY.ruleset.by_id))


@pytest.mark.parametrize("case", TESTS, ids=[f"{t.location} {t.name}" for t in TESTS])
def test_rule_test(case: RuleTest) -> None:
    failures = run(POLICY, case)
    assert not failures, f"{case.location}: {case.name}\n" + "\n".join(failures)


COVERAGE = coverage(POLICY.ruleset.by_id, TESTS)


@pytest.mark.parametrize("rule_id", sorted(POLICY.ruleset.by_id))
def test_every_rule_has_a_test_where_it_fires_and_a_near_miss(rule_id: str) -> None:
    lacks = COVERAGE.missing.get(rule_id, ())

    assert lacks == (), f"{rule_id}: {', '.join(lacks)}"


def test_the_pack_lints_without_errors() -> None:
    findings = lint_directory(RULES)

    assert [str(f) for f in findings if f.severity == ERROR] == []
    for finding in findings:
        assert (RULES.parent / finding.file).is_file(), finding
        assert finding.line >= 1, finding
        assert finding.hint, finding
    assert not [f for f in findings if f.kind == "untested"]


def test_every_rule_explains_itself(policy: Policy) -> None:
    for rule in policy.ruleset.rules:
        assert rule.title, rule.id
        assert rule.description, rule.id
        assert rule.then.guidance, f"{rule.id} gives the agent no guidance"
