"""Run rule tests: YAML cases next to the rules that say what a decision must show."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path as FsPath
from typing import Any

from marshmallow import ValidationError

from schemas.api import CaseSnapshotV1Schema, EventV1Schema
from schemas.common import flatten
from schemas.rule_tests import RuleTestFileSchema, RuleTestSchema
from service.cases.model import Event, Snapshot
from service.decide import Decision, evaluate
from service.policy import Policy
from service.ruleset.issues import InvalidFiles, Issue, did_you_mean, line_of, render_path
from service.ruleset.loader import discover
from service.ruleset.yamlsrc import parse

TEST_TIME = "2026-01-05T10:00:00Z"


@dataclass(frozen=True)
class RuleTest:
    """One rule test, ready to run."""

    name: str
    file: str
    line: int
    event: Event
    snapshot: Snapshot
    expect: dict[str, Any] = field(hash=False)

    @property
    def location(self) -> str:
        """Return file:line of the test."""
        return f"{self.file}:{self.line}"


def load_tests(root: FsPath, rule_ids: frozenset[str]) -> list[RuleTest]:
    """Load every rule test under ``root/tests``; raise InvalidFiles listing every problem."""
    sources = discover(root)
    issues: list[Issue] = []
    tests: list[RuleTest] = []
    for path in sources.test_files:
        name = sources.display(path)
        located, problems = parse(path.read_text(encoding="utf-8"), name)
        issues.extend(problems)
        if located is None:
            continue
        data = located.data if located.data is not None else {}
        try:
            RuleTestFileSchema().load(data)
        except ValidationError as exc:
            issues += [
                Issue(name, line_of(located.lines, p), m, where=render_path(p))
                for p, m in flatten(exc.messages)
            ]
            continue
        for index, raw in enumerate(data["tests"]):
            prefix = ("tests", index)
            line = line_of(located.lines, prefix)
            try:
                test = _build(raw, index, name, line, rule_ids)
            except ValidationError as exc:
                issues += [
                    Issue(
                        name,
                        line_of(located.lines, (*prefix, *p)),
                        m,
                        where=render_path((*prefix, *p)),
                    )
                    for p, m in flatten(exc.messages)
                ]
                continue
            tests.append(test)
    if issues:
        raise InvalidFiles(issues)
    return tests


def _build(raw: Any, index: int, file: str, line: int, rule_ids: frozenset[str]) -> RuleTest:
    spec = RuleTestSchema().load(raw if isinstance(raw, dict) else {})
    event_data = {"event_id": f"test-{index}", "occurred_at": TEST_TIME, **spec["event"]}
    try:
        event = EventV1Schema().load(event_data)
    except ValidationError as exc:
        raise ValidationError({"event": exc.messages}) from exc
    try:
        snapshot = CaseSnapshotV1Schema().load(spec["case"])
    except ValidationError as exc:
        raise ValidationError({"case": exc.messages}) from exc
    expect = spec["expect"]
    unknown = {
        key: [f'no rule "{rule}"' + (f"; {hint}" if (hint := did_you_mean(rule, rule_ids)) else "")]
        for key in ("fires", "does_not_fire")
        for rule in expect[key]
        if rule not in rule_ids
    }
    if unknown:
        raise ValidationError({"expect": unknown})
    return RuleTest(spec["name"], file, line, event, snapshot, expect)


def check(test: RuleTest, decision: Decision) -> list[str]:
    """Return every way the decision differs from what the test expects."""
    expect = test.expect
    matched = [m.rule.id for m in decision.matched]
    found = [s.name for s in decision.signals]
    failures = []
    for rule in expect["fires"]:
        if rule not in matched:
            failures.append(f"expected {rule} to fire; matched: {matched or 'nothing'}")
    for rule in expect["does_not_fire"]:
        if rule in matched:
            why = next(m.why for m in decision.matched if m.rule.id == rule)
            failures.append(f"expected {rule} not to fire, but it did: {why}")
    if "outcome" in expect and decision.outcome != expect["outcome"]:
        failures.append(f"expected outcome {expect['outcome']}, got {decision.outcome}")
    if "escalate_to" in expect:
        got = sorted(e.to for e in decision.escalations)
        if got != sorted(expect["escalate_to"]):
            failures.append(f"expected escalations to {sorted(expect['escalate_to'])}, got {got}")
    if "route_to" in expect and decision.route_to != expect["route_to"]:
        failures.append(f"expected route_to {expect['route_to']}, got {decision.route_to}")
    if "priority" in expect and decision.priority != expect["priority"]:
        failures.append(f"expected priority {expect['priority']}, got {decision.priority}")
    for name in expect["signals"]:
        if name not in found:
            failures.append(f"expected signal {name}; found: {found or 'none'}")
    for name in expect["no_signals"]:
        if name in found:
            evidence = next(s.evidence for s in decision.signals if s.name == name)
            failures.append(f"expected no {name} signal, but found one in '{evidence}'")
    return failures


def run(policy: Policy, test: RuleTest) -> list[str]:
    """Run one rule test against a policy; return its failures."""
    evaluation = evaluate(
        policy, test.snapshot, test.event, case_id="rule-test", now=datetime.now(UTC)
    )
    return check(test, evaluation.decision)
