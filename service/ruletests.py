"""Run rule tests: YAML cases next to the rules that say what a decision must show."""

from __future__ import annotations

from collections.abc import Iterable
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
from service.hints import Hinted, did_you_mean
from service.policy import Policy
from service.ruleset.issues import InvalidFiles, Issue, line_of
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
            issues += [located.issue(name, p, m) for p, m in flatten(exc.messages)]
            continue
        for index, raw in enumerate(data["tests"]):
            prefix = ("tests", index)
            line = line_of(located.lines, prefix)
            try:
                test = _build(raw, index, name, line, rule_ids)
            except ValidationError as exc:
                issues += [located.issue(name, (*prefix, *p), m) for p, m in flatten(exc.messages)]
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
        key: [Hinted(f'no rule "{rule}"', did_you_mean(rule, rule_ids))]
        for key in ("fires", "does_not_fire")
        for rule in expect[key]
        if rule not in rule_ids
    }
    if unknown:
        raise ValidationError({"expect": unknown})
    return RuleTest(spec["name"], file, line, event, snapshot, expect)


def _why(decision: Decision, rule_id: str) -> str:
    return next((m.why for m in decision.matched if m.rule.id == rule_id), "")


def _escalations(decision: Decision, targets: Iterable[str] | None = None) -> str:
    """Say which rule asked for each escalation, and why it matched."""
    wanted = None if targets is None else set(targets)
    parts = [
        f"escalation to {e.to} by rule {e.rule}: {_why(decision, e.rule)}"
        for e in decision.escalations
        if wanted is None or e.to in wanted
    ]
    parts += [
        f"escalation to {s.to} by rule {s.rule} held back by its cool-down until "
        f"{s.until:%Y-%m-%d %H:%M}"
        for s in decision.suppressed
        if wanted is None or s.to in wanted
    ]
    return "; ".join(parts)


def _decided_by(decision: Decision, attribute: str) -> str:
    """Name the highest-ranked matching rule that set ``route_to`` or ``priority``."""
    rule = next((m.rule for m in decision.matched if getattr(m.rule.then, attribute)), None)
    if rule is None:
        return f"no matching rule sets {attribute}"
    return f"set by rule {rule.id}: {_why(decision, rule.id)}"


def _matched(decision: Decision) -> str:
    return ", ".join(m.rule.id for m in decision.matched) or "no rule"


def _outcome_story(decision: Decision) -> str:
    if decision.outcome == "escalate":
        return _escalations(decision)
    if decision.outcome == "route":
        return f"route to {decision.route_to} {_decided_by(decision, 'route_to')}"
    held = _escalations(decision)
    if held:
        return held
    return f"no rule escalated or routed; matched: {_matched(decision)}"


def check(test: RuleTest, decision: Decision) -> list[str]:
    """Return every way the decision differs from what the test expects, with the rules behind it.

    Each failure reads ``expected <field> <value>, got <value> — <which rule, and why>``.
    """
    expect = test.expect
    matched = [m.rule.id for m in decision.matched]
    found = [s.name for s in decision.signals]
    failures = []
    for rule in expect["fires"]:
        if rule not in matched:
            failures.append(
                f"expected rule {rule} to fire, but it did not; matched: {_matched(decision)}"
            )
    for rule in expect["does_not_fire"]:
        if rule in matched:
            failures.append(f"expected rule {rule} not to fire, but it did: {_why(decision, rule)}")
    if "outcome" in expect and decision.outcome != expect["outcome"]:
        failures.append(
            f"expected outcome {expect['outcome']}, got {decision.outcome} — "
            + _outcome_story(decision)
        )
    if "escalate_to" in expect:
        got = sorted(e.to for e in decision.escalations)
        wanted = sorted(expect["escalate_to"])
        if got != wanted:
            text = f"expected escalate_to {wanted}, got {got}"
            extra = [t for t in got if t not in wanted]
            missing = [t for t in wanted if t not in got]
            details = []
            if extra:
                details.append(_escalations(decision, extra))
            if missing:
                held = _escalations(decision, missing)
                details.append(held or f"no rule escalated to {', '.join(missing)}")
            failures.append(text + " — " + "; ".join(details))
    if "route_to" in expect and decision.route_to != expect["route_to"]:
        failures.append(
            f"expected route_to {expect['route_to']}, got {decision.route_to} — "
            + _decided_by(decision, "route_to")
        )
    if "priority" in expect and decision.priority != expect["priority"]:
        failures.append(
            f"expected priority {expect['priority']}, got {decision.priority} — "
            + _decided_by(decision, "priority")
        )
    for name in expect["signals"]:
        if name not in found:
            failures.append(f"expected signal {name}; found: {', '.join(found) or 'none'}")
    for name in expect["no_signals"]:
        if name in found:
            signal = next(s for s in decision.signals if s.name == name)
            failures.append(
                f"expected no {name} signal, but found one ({signal.language}) "
                f"in '{signal.evidence}'"
            )
    return failures


@dataclass(frozen=True)
class Result:
    """One rule test run: the decision and every way it differs from the expectation."""

    test: RuleTest
    decision: Decision
    failures: tuple[str, ...]

    def summary(self) -> str:
        """Return what the decision showed, in one line."""
        decision = self.decision
        escalations = ", ".join(f"{e.to} ({e.mode})" for e in decision.escalations) or "none"
        signals = ", ".join(f"{s.name} ({s.language})" for s in decision.signals) or "none"
        return (
            f"got: outcome {decision.outcome}; escalate_to {escalations}; "
            f"route_to {decision.route_to}; priority {decision.priority}; "
            f"matched {_matched(decision)}; signals {signals}"
        )


def execute(policy: Policy, test: RuleTest) -> Result:
    """Run one rule test against a policy; return the decision and the failures."""
    evaluation = evaluate(
        policy, test.snapshot, test.event, case_id="rule-test", now=datetime.now(UTC)
    )
    decision = evaluation.decision
    return Result(test, decision, tuple(check(test, decision)))


def run(policy: Policy, test: RuleTest) -> list[str]:
    """Run one rule test against a policy; return its failures."""
    return list(execute(policy, test).failures)
